"""Keyword search over packages when one package's body is damaged: the others are still found
(a damaged package matches by its metadata only), and restoring the damaged one still says
what is wrong."""

from __future__ import annotations

import pytest
from restore_support import Kit, msg

from ctxstore.application.context_search import ContextSearch, ContextSearchQuery
from ctxstore.application.errors import CorruptedCheckpoint
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.points import Point


def test_a_damaged_package_does_not_fail_the_search(kit: Kit) -> None:
    kit.store.record([msg("good", "the harbour lighthouse"), msg("bad", "the harbour pier")])
    good = kit.checkpoints.capture("good", label="good one")
    bad = kit.checkpoints.capture("bad", label="bad one")
    body = kit.stored_body(bad.package_id)
    kit.set_stored_body(bad.package_id, body[: len(body) // 2])
    search = ContextSearch(kit.checkpoints)

    def found(*keywords: str) -> list[str]:
        query = ContextSearchQuery(keywords=keywords)
        return sorted(c.package_id for c in search.search_contexts(query, LOCAL_TENANT))

    assert found("harbour") == [good.package_id]  # the damaged one's text cannot be read
    assert found("bad") == [bad.package_id]  # its metadata still matches
    with pytest.raises(CorruptedCheckpoint):
        kit.restore.restore(None, Point.of_checkpoint(bad.package_id), "elsewhere")
