"""A management request sent by Debian's python3-qpid-proton itself, the way
qdstat talks to qdrouterd: prints the decoded reply as one JSON line.

Usage: router-mgmt.py HOST:PORT ENTITY_TYPE [ATTRIBUTE ...]
"""
import json
import sys

from proton import Message
from proton.utils import BlockingConnection


def main():
    bus, entity = sys.argv[1], sys.argv[2]
    attrs = sys.argv[3:]
    conn = BlockingConnection("amqp://" + bus, timeout=10)
    try:
        receiver = conn.create_receiver(None, dynamic=True)
        sender = conn.create_sender("$management")

        def ask(correlation_id):
            sender.send(Message(
                reply_to=receiver.remote_source.address,
                correlation_id=correlation_id,
                properties={"operation": "QUERY", "type": "org.amqp.management",
                            "entityType": entity, "name": "self"},
                body={"attributeNames": attrs},
            ))
            return receiver.receive(timeout=10)

        # a numeric (ulong) correlation id, then a string one: routers differ on the first
        reply = ask(4711)
        string_reply = ask("hmlab-4712")
        print(json.dumps({
            "product": conn.conn.remote_properties.get("product") if conn.conn.remote_properties else None,
            "correlation_id": reply.correlation_id,
            "string_correlation_id": string_reply.correlation_id,
            "statusCode": reply.properties.get("statusCode"),
            "attributeNames": list(reply.body["attributeNames"]),
            "results": [list(r) for r in reply.body["results"]],
        }, default=str))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
