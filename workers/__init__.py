"""arq workers: jobs and cron jobs gathered from each domain's `tasks.py`."""
