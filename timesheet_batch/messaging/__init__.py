"""The Celery layer, and the only package that imports Celery or kombu: the app and its
configuration, the tasks (one per job kind, plus the farm's bookkeeping), routing, every
published message, the beat schedule and the embedded broker.

Everything below it (``jobs``, ``kinds``, ``reports``, ``pipeline``, ``formats``, ``storage``,
``vendors``, ``db``) is Celery-free; ``.importlinter`` keeps it so.
"""
