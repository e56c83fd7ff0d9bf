"""A TCP proxy between a client and a real server that can lose bytes in flight and cut.

What a broken network does to a NATS client: the bytes on the wire when the connection dies are
lost, while what the client still buffered goes out after it reconnects. ``hold()`` keeps the
client's bytes in the proxy instead of forwarding them; ``cut()`` drops those bytes and aborts
every connection (new ones are proxied as usual).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.holding = False
        self.dropped_bytes = 0
        self.cuts = 0
        self._held: dict[int, bytearray] = {}
        self._pairs: list[_Pair] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"nats://{host}:{port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def hold(self) -> None:
        self.holding = True

    def cut(self) -> None:
        self.dropped_bytes += sum(len(b) for b in self._held.values())
        self._held.clear()
        self.holding = False
        self.cuts += 1
        for pair in self._pairs:
            for task in pair.tasks:
                task.cancel()
            pair.client.transport.abort()
            pair.server.transport.abort()
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        pair.tasks = [asyncio.create_task(self._pump(reader, up_writer, id(pair))),
                      asyncio.create_task(self._pump(up_reader, writer, None))]
        self._pairs.append(pair)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    held_key: int | None) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if held_key is not None and self.holding:
                    self._held.setdefault(held_key, bytearray()).extend(data)
                    continue
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
