"""Real oslo.messaging roles for the router tests, driven over stdin/stdout.

Usage: router-oslo.py ROLE --url URL [--topic T] [--server NAME] [--send-timeout S]
Roles: server, client, notifier, listener. Every line printed is one JSON
object; clients and notifiers read one JSON command per line on stdin.
Run with Debian's /usr/bin/python3 (it has oslo.messaging and its AMQP 1.0 driver).
"""
import argparse
import json
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging
from oslo_messaging._drivers.amqp1_driver import opts as amqp_opts

out_lock = threading.Lock()


def emit(**kw):
    with out_lock:
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()


def configure(args):
    # the global CONF: a private ConfigOpts breaks call() in oslo.messaging 14
    cfg.CONF([], project="hmlab-router-test")
    cfg.CONF.register_opts(amqp_opts.amqp1_opts, group="oslo_messaging_amqp")
    cfg.CONF.set_override("default_send_timeout", args.send_timeout, group="oslo_messaging_amqp")
    cfg.CONF.set_override("default_notify_timeout", args.send_timeout, group="oslo_messaging_amqp")
    cfg.CONF.set_override("connection_retry_interval", 1, group="oslo_messaging_amqp")
    cfg.CONF.set_override("connection_retry_interval_max", 1, group="oslo_messaging_amqp")


class Endpoint(object):
    def __init__(self, name):
        self.name = name

    def echo(self, ctx, value):
        emit(event="handled", method="echo", server=self.name, value=value)
        return {"server": self.name, "value": value}

    def note(self, ctx, value):
        emit(event="handled", method="note", server=self.name, value=value)

    def sleep(self, ctx, seconds):
        emit(event="handled", method="sleep", server=self.name, value=seconds)
        time.sleep(seconds)
        return {"server": self.name, "value": seconds}


class NotifyEndpoint(object):
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        emit(event="notification", priority="info", publisher=publisher_id, event_type=event_type, payload=payload)


def run_server(args):
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=args.url)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint(args.server)], executor="threading")
    server.start()
    emit(event="ready", server=args.server)
    sys.stdin.read()  # until the test closes stdin or kills us
    server.stop()
    server.wait()


def run_listener(args):
    transport = oslo_messaging.get_notification_transport(cfg.CONF, url=args.url)
    targets = [oslo_messaging.Target(topic=args.topic)]
    listener = oslo_messaging.get_notification_listener(transport, targets, [NotifyEndpoint()], executor="threading")
    listener.start()
    emit(event="ready")
    sys.stdin.read()
    listener.stop()
    listener.wait()


def run_client(args):
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=args.url)
    emit(event="ready")
    for line in iter(sys.stdin.readline, ""):
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        threading.Thread(target=client_op, args=(transport, args, cmd), daemon=True).start()


def client_op(transport, args, cmd):
    target = oslo_messaging.Target(topic=cmd.get("topic", args.topic), server=cmd.get("server"), fanout=cmd.get("fanout", False))
    client = oslo_messaging.get_rpc_client(transport, target, timeout=cmd.get("timeout", 10))
    start = time.time()
    try:
        if cmd["op"] == "call":
            result = client.call({}, cmd.get("method", "echo"), **cmd.get("args", {"value": cmd.get("id")}))
        else:
            client.cast({}, cmd.get("method", "note"), **cmd.get("args", {"value": cmd.get("id")}))
            result = None
        emit(event="result", id=cmd.get("id"), ok=True, result=result, ms=(time.time() - start) * 1000)
    except Exception as e:  # the test asserts on the exception class
        emit(event="result", id=cmd.get("id"), ok=False, error=type(e).__name__, detail=str(e)[:300], ms=(time.time() - start) * 1000)


def run_notifier(args):
    transport = oslo_messaging.get_notification_transport(cfg.CONF, url=args.url)
    notifier = oslo_messaging.Notifier(transport, publisher_id="hmlab.test", driver="messagingv2", topics=[args.topic])
    emit(event="ready")
    for line in iter(sys.stdin.readline, ""):
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        start = time.time()
        try:
            notifier.info({}, cmd.get("event_type", "hmlab.test"), cmd.get("payload", {}))
            emit(event="result", id=cmd.get("id"), ok=True, ms=(time.time() - start) * 1000)
        except Exception as e:
            emit(event="result", id=cmd.get("id"), ok=False, error=type(e).__name__, detail=str(e)[:300], ms=(time.time() - start) * 1000)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client", "notifier", "listener"])
    p.add_argument("--url", required=True)
    p.add_argument("--topic", default="hmlab-test")
    p.add_argument("--server", default="server-1")
    p.add_argument("--send-timeout", type=int, default=5)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    if args.debug:
        import logging
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    configure(args)
    {"server": run_server, "client": run_client, "notifier": run_notifier, "listener": run_listener}[args.role](args)


if __name__ == "__main__":
    main()
