"""ctxstore: an event-sourced context store for AI agents.

One installed package holds the card's layers (``ctxstore.domain``, ``ctxstore.application``,
``ctxstore.projections``, ``ctxstore.infrastructure``), so installing ctxstore puts one name into
site-packages, not four generic ones that collide with other projects.
"""

__version__ = "0.1.0"
