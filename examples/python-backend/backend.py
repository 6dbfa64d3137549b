#!/usr/bin/env python3
"""A Session Mesh backend in Python, written from docs/subjects.md alone.

    python backend.py --nats nats://127.0.0.1:4222 push-user alice 'hello'
    python backend.py push-session <session-id> 'hi'      # by session id alone (a JWT's jti)
    python backend.py push-client alice tab-1 'only this tab'
    python backend.py kill-session <session-id> 'password changed'
    python backend.py kill-user alice
    python backend.py serve-inbound chat                  # answer client requests on topic "chat"

Ids go into subjects (and Mesh-* headers) as base64url of their UTF-8 bytes, without padding.
"""
import argparse
import asyncio
import base64
import json

import nats


def token(id_: str) -> str:
    """The one encoding rule: base64url(UTF-8 bytes), '=' padding stripped."""
    return base64.urlsafe_b64encode(id_.encode("utf-8")).rstrip(b"=").decode("ascii")


def untoken(tok: str) -> str:
    return base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode("utf-8")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--prefix", default="mesh")
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    a = parser.parse_args()
    p = a.prefix

    nc = await nats.connect(a.nats)
    try:
        if a.command == "push-user":
            user, payload = a.args
            await nc.publish(f"{p}.push.user.{token(user)}", payload.encode())
        elif a.command == "push-session":
            session, payload = a.args
            await nc.publish(f"{p}.push.session.{token(session)}", payload.encode())
        elif a.command == "push-client":
            user, client, payload = a.args
            await nc.publish(f"{p}.push.user.{token(user)}", payload.encode(), headers={"Mesh-Client": token(client)})
        elif a.command == "broadcast":
            (payload,) = a.args
            await nc.publish(f"{p}.push.all", payload.encode())
        elif a.command == "kill-session":
            session, *reason = a.args
            headers = {"Mesh-Reason": reason[0]} if reason else None
            await nc.publish(f"{p}.kill.session.{token(session)}", b"", headers=headers)
        elif a.command == "kill-user":
            (user,) = a.args
            await nc.publish(f"{p}.kill.user.{token(user)}", b"")
        elif a.command == "serve-inbound":
            # Answers client requests on one topic through a queue group: run as many copies as you like.
            (topic,) = a.args

            async def handle(msg):
                who = untoken(msg.headers["Mesh-User"])
                roles = json.loads(msg.headers.get("Mesh-Roles", "[]"))
                if msg.reply:
                    await msg.respond(f"hello {who} ({','.join(roles)}): {msg.data.decode(errors='replace')}".encode())

            await nc.subscribe(f"{p}.in.{topic}", queue="python-backend", cb=handle)
            await nc.flush()
            print("ready", flush=True)
            await asyncio.Event().wait()
        else:
            parser.error(f"unknown command {a.command}")
        await nc.flush()
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
