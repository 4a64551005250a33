"""The policy in one place: the values the monitoring system uses, and the rules with numbers.

Counties read and change policy here (and, where it is county-configurable, in the database);
nothing else in the code spells a policy value or threshold on its own.
"""
