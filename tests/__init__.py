import os

# Said explicitly, as the settings require for their development defaults, before anything
# reads them (workers/main.py does on import); commands run in subprocesses inherit it.
os.environ.setdefault("APP_ENV", "test")
