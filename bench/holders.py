#!/usr/bin/env python3
"""Background load for bench/run: idle sockets, slow readers, or idle keep-alive connections.

  holders.py idle HOST PORT N            N connections that send nothing
  holders.py slow HOST PORT N PATH       N clients that request PATH and read 1 KiB per second
  holders.py keepalive HOST PORT N PATH  N connections that make one request each, then idle

Prints "ready N" once every connection is set up, then holds them until killed (or 300 s).
"""
import socket
import sys
import time


def connect(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s


def main():
    mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    path = sys.argv[5] if len(sys.argv) > 5 else "/"
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    socks = []
    failed = 0
    for _ in range(n):
        try:
            s = connect(host, port)
            if mode in ("slow", "keepalive"):
                s.sendall(request)
            socks.append(s)
        except OSError:
            failed += 1
    if mode == "keepalive":
        answered = []
        for s in socks:
            try:
                s.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    data += chunk
                answered.append(s)
            except OSError:
                failed += 1
        socks = answered
    print(f"ready {len(socks)} failed {failed}", flush=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if mode == "slow":
            for s in socks:
                s.setblocking(False)
                try:
                    s.recv(1024)
                except (BlockingIOError, ConnectionError):
                    pass
        time.sleep(1)


if __name__ == "__main__":
    main()
