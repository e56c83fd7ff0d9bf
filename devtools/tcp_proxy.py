"""A TCP proxy between a client and a real server that can lose bytes in flight, cut, and slow.

What a broken network does to a NATS client: the bytes on the wire when the connection dies are
lost, while what the client still buffered goes out after it reconnects. ``hold()`` keeps the
client's bytes in the proxy instead of forwarding them; ``hold_after(n)`` does so once `n` more
of the client's bytes have gone through (a point in the client's progress, whatever the
machine's speed); ``cut()`` drops the held bytes and aborts every connection (new ones are
proxied as usual).

``reply_delay`` makes a slow network on purpose: every chunk from the server waits that long
before it goes on, so anything that needs N round trips takes at least N × reply_delay
(``delayed_replies`` counts them). ``server_version`` makes the server's INFO announce
that version instead of its own (an older server's answer, where no older server is at hand).

``blackhole()`` is a network that went away: nothing passes in either direction, and a new
connection is accepted but never reaches the server, as when packets are dropped (no reset
tells anyone). A commit whose reply is lost this way happened on the server while the client
cannot know it. ``heal()`` ends it as a router losing its state would: every connection of the
outage is reset, and new ones are proxied as usual. ``lose_replies_after(marker)`` loses only
the server's side, from the client's first chunk holding `marker` on (a commit that the server
makes and whose answer never arrives), until ``heal()``.

The proxy's kernel still acknowledges what a client sends into a blackhole, which a dropped
packet never is: ``stall()`` also stops reading the clients' bytes, so with a small
``receive_buffer`` the client's data soon waits unacknowledged behind a closed window, where
its TCP user timeout (``tcp_user_timeout``) applies as on a real silent network.
``stall_after(n)`` stalls once `n` more of the clients' bytes went through (in the middle of a
big statement: a client waiting for a reply, its bytes all acknowledged, would only see a
silent peer through keepalives, which the proxy's kernel answers).

Run as ``python -m devtools.tcp_proxy HOST PORT`` it proxies in its own process (so a busy
test process does not slow the traffic), prints ``port <n>`` once listening, and reads
``blackhole``, ``heal`` and ``delay <seconds>`` (the reply delay) lines on stdin, answering
each with ``ok``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *,
                 receive_buffer: int | None = None, listen_port: int = 0):
        self.target = (target_host, target_port)
        self.listen_port = listen_port  # 0: any free port
        self.receive_buffer = receive_buffer  # SO_RCVBUF of the clients' side (None: default)
        self.stalled = False
        self._unstalled = asyncio.Event()
        self._stall_at: int | None = None
        self.holding = False
        self.dropped_bytes = 0
        self.forwarded_bytes = 0  # from clients to the server
        self.cuts = 0
        self.reply_delay = 0.0
        self.delayed_replies = 0
        self.server_version: str | None = None
        self.blackholed = False
        self.replies_lost = False
        self._lose_replies_on: bytes | None = None
        self._stranded: list[asyncio.StreamWriter] = []  # connected during a blackhole
        self._hold_at: int | None = None
        self._held: dict[int, bytearray] = {}
        self._pairs: list[_Pair] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"nats://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def held_bytes(self) -> int:
        return sum(len(b) for b in self._held.values())

    async def start(self) -> TcpProxy:
        if self.receive_buffer is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1",
                                                      self.listen_port)
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Set before listening, so accepted sockets advertise a window this small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        sock.bind(("127.0.0.1", self.listen_port))
        self._server = await asyncio.start_server(self._accept, sock=sock)
        return self

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def hold(self) -> None:
        self.holding = True

    def hold_after(self, forwarded: int) -> None:
        """Hold from the byte after the next `forwarded` bytes of the clients."""
        self._hold_at = self.forwarded_bytes + forwarded

    def cut(self) -> None:
        self.dropped_bytes += self.held_bytes
        self._held.clear()
        self.holding = False
        self._hold_at = None
        self.cuts += 1
        for pair in self._pairs:
            for task in pair.tasks:
                task.cancel()
            pair.client.transport.abort()
            pair.server.transport.abort()
        self._pairs.clear()
        for writer in self._stranded:
            writer.transport.abort()
        self._stranded.clear()

    def blackhole(self) -> None:
        """Nothing passes either way from now on, and new connections go nowhere."""
        self.blackholed = True
        self.hold()

    def stall(self) -> None:
        """A blackhole whose clients' bytes also stay unacknowledged (see the docstring)."""
        self.stalled = True
        self._unstalled.clear()
        self.blackhole()
        for pair in self._pairs:  # nothing more into the proxy's buffers: the window closes
            pair.client.transport.pause_reading()

    def stall_after(self, forwarded: int) -> None:
        """Stall once the next `forwarded` bytes of the clients have gone through."""
        self._stall_at = self.forwarded_bytes + forwarded

    def lose_replies(self) -> None:
        """From now on, drop everything the server sends (until ``heal()``)."""
        self.replies_lost = True

    def lose_replies_after(self, marker: bytes) -> None:
        """From the client chunk holding `marker` on (that chunk still goes to the server),
        drop everything the server answers."""
        self._lose_replies_on = marker

    def heal(self) -> None:
        """Reset every connection of the outage; new ones are proxied again."""
        self.blackholed = self.replies_lost = self.stalled = False
        self._stall_at = None
        self._unstalled.set()
        self._lose_replies_on = None
        self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blackholed:
            self._stranded.append(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        pair.tasks = [asyncio.create_task(self._pump_up(reader, up_writer, id(pair))),
                      asyncio.create_task(self._pump_down(up_reader, writer))]
        self._pairs.append(pair)

    def _split(self, data: bytes) -> tuple[bytes, bytes]:
        """(what goes on, what is held) of a client's chunk."""
        if self.holding:
            return b"", data
        if self._hold_at is not None and self.forwarded_bytes + len(data) >= self._hold_at:
            keep = self._hold_at - self.forwarded_bytes
            self.holding, self._hold_at = True, None
            return data[:keep], data[keep:]
        return data, b""

    async def _pump_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       held_key: int) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while True:
                if self.stalled:
                    await self._unstalled.wait()  # not reading: the window closes
                data = await reader.read(65536)
                if not data:
                    break
                if self._stall_at is not None and self.forwarded_bytes >= self._stall_at:
                    self._stall_at = None
                    self.stall()
                forward, held = self._split(data)
                if held:
                    self._held.setdefault(held_key, bytearray()).extend(held)
                if forward:
                    self.forwarded_bytes += len(forward)
                    if self._lose_replies_on is not None and self._lose_replies_on in forward:
                        self.replies_lost, self._lose_replies_on = True, None
                    writer.write(forward)
                    await writer.drain()
        writer.transport.abort()

    async def _pump_down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if self.blackholed or self.replies_lost:
                    self.dropped_bytes += len(data)
                    continue
                if self.server_version is not None and data.startswith(b"INFO "):
                    data = self._with_version(data, self.server_version)
                if self.reply_delay > 0:
                    self.delayed_replies += 1
                    await asyncio.sleep(self.reply_delay)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    @staticmethod
    def _with_version(data: bytes, version: str) -> bytes:
        line, sep, rest = data.partition(b"\r\n")
        info = json.loads(line[5:])
        info["version"] = version
        return b"INFO " + json.dumps(info).encode() + sep + rest


async def _serve(host: str, port: int) -> None:
    """The proxy in this process, controlled by lines on stdin (see the module's docstring)."""
    proxy = await TcpProxy(host, port).start()
    print(f"port {proxy.port}", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = line.strip()
        if command == "blackhole":
            proxy.blackhole()
        elif command == "heal":
            proxy.heal()
        elif command.startswith("delay "):
            proxy.reply_delay = float(command.split()[1])
        else:
            print(f"unknown command {command!r}", flush=True)
            continue
        print("ok", flush=True)
    await proxy.stop()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))
