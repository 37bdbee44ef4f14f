"""A pyngus (qpid-proton) consumer that frees its receiving link without
closing it, as oslo.messaging's AMQP 1.0 driver does when it destroys a
link: proton then ends the link's session with no detach, and keeps the
connection open. Prints JSON lines: attached, then freed once told
"free" on stdin."""
import json
import socket
import sys
import time

import pyngus

port, address = int(sys.argv[1]), sys.argv[2]


class Handler(pyngus.ConnectionEventHandler, pyngus.ReceiverEventHandler):
    pass


def say(event):
    print(json.dumps({'event': event}), flush=True)


conn = pyngus.Container('session-end').create_connection('c', Handler(), {})
sock = socket.create_connection(('127.0.0.1', port))
sock.setblocking(False)
conn.open()
link = conn.create_receiver(address, source_address=address, name='rx',
                            event_handler=Handler())
link.add_capacity(10)
link.open()


def pump(seconds):
    end = time.time() + seconds
    while time.time() < end:
        if conn.needs_input > 0:
            try:
                data = sock.recv(65536)
                if data:
                    conn.process_input(data)
            except BlockingIOError:
                pass
        if conn.has_output > 0:
            conn.output_written(sock.send(conn.output_data()))
        conn.process(time.time())
        time.sleep(0.01)


pump(0.5)
while not link.active:
    pump(0.1)
say('attached')
while not sys.stdin.readline().strip() == 'free':  # the test looks first
    pass
link.destroy()  # no close: proton sends END for the session, no DETACH
pump(0.5)
say('freed')
pump(60)  # the connection stays open until the test kills us
