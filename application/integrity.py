"""`verify`: walk agents' hash chains and name what was changed behind the store's back.

The chain walk reads stored rows only (no decryption, no folding), so it runs with the
integrity key alone and costs one pass over the events and their index rows. Then each
snapshot's and checkpoint's chain head is checked against the link stored at its version:
those are read through the store's decoder, so with encryption on and no encryption key they
are counted as unread, not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ctxstore.application.chain import (
    Commitment,
    EventChain,
    Finding,
    check_commitments,
    walk,
)
from ctxstore.application.chain_port import ChainIndex


@dataclass
class VerifyReport:
    agents: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # asked for, not in the catalogue
    commitments: int = 0  # snapshots' and checkpoints' chain heads checked
    unread: int = 0  # snapshots and checkpoints not readable here (encrypted: no key given)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.unknown


class IntegrityService:
    def __init__(self, index: ChainIndex, chain: EventChain,
                 commitments: Sequence[Callable[[str], Iterable[Commitment]]] = ()):
        self.index = index
        self.chain = chain
        # By agent key: its snapshots' and checkpoints' chain heads (reading those does
        # decrypt: without the encryption key they are counted as unread, not checked).
        self.commitments = commitments

    def verify(self, agent_ids: list[str] | None = None) -> VerifyReport:
        """Walk the chains of those agents (by key; None: every agent in the catalogue)."""
        report = VerifyReport()
        heads = self.index.chain_heads(agent_ids)
        if agent_ids is not None:
            known = {h.agent_id for h in heads}
            report.unknown = [a for a in agent_ids if a not in known]
        for head in heads:
            rows = list(self.index.chain_rows(head.originator_id))
            report.agents += 1
            report.events += sum(1 for r in rows if r.state is not None)
            report.findings += walk(self.chain, head.agent_id, head.originator_id, rows,
                                    (head.version, head.link))
            held: list[Finding] = []
            for source in self.commitments:
                found, checked, unread = check_commitments(head.agent_id, rows,
                                                           source(head.agent_id))
                held += found
                report.commitments += checked
                report.unread += unread
            report.findings += sorted(held, key=lambda f: f.version)
        return report
