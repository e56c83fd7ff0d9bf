"""The pure model of ctxstore: agent ids, wire events, the folded context and its hash.

Nothing here does I/O or imports from the outer packages.
"""
