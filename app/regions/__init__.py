"""Administrative divisions (统计用区划代码) and the region tree scope is built on."""
