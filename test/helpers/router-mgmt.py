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
        request = Message(
            reply_to=receiver.remote_source.address,
            correlation_id=4711,
            properties={"operation": "QUERY", "type": "org.amqp.management",
                        "entityType": entity, "name": "self"},
            body={"attributeNames": attrs},
        )
        sender.send(request)
        reply = receiver.receive(timeout=10)
        print(json.dumps({
            "product": conn.conn.remote_properties.get("product") if conn.conn.remote_properties else None,
            "correlation_id": reply.correlation_id,
            "statusCode": reply.properties.get("statusCode"),
            "attributeNames": list(reply.body["attributeNames"]),
            "results": [list(r) for r in reply.body["results"]],
        }, default=str))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
