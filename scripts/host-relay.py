#!/usr/bin/env python3
"""Relays TCP connections from ADDRESS:PORT to 127.0.0.1:PORT, for each PORT given, so that
containers on a podman network can reach engines that listen on the host's loopback only.
ADDRESS is the network's gateway (what host.containers.internal resolves to); it may not
exist yet, as podman makes the bridge with the network's first container (IP_FREEBIND).

    scripts/host-relay.py 10.89.213.1 5432 6379 5672"""
import asyncio
import socket
import sys

IP_FREEBIND = 15


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def relay(port):
    async def handle(client_r, client_w):
        try:
            host_r, host_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, host_w), pipe(host_r, client_w))
    return handle


async def main(address, ports):
    servers = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((address, port))
        servers.append(await asyncio.start_server(relay(port), sock=sock))
    print(f"relay: {address} ports {' '.join(map(str, ports))} to 127.0.0.1", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
