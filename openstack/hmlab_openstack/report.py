"""Event lines, traffic counters and transport watching for one service."""
import json
import logging
import os
import re
import threading
import time


def redact(url):
    """A transport URL without its passwords, safe to show on a slide."""
    if not url:
        return url
    return re.sub(r'(://|,)([^:@/,]+):([^@/,]*)@', r'\1\2:***@', url)


def now_ms():
    return int(time.time() * 1000)


EMPTY_COUNTERS = {
    'rpcCalls': {'ok': 0, 'failed': 0},
    'rpcCasts': {'sent': 0},
    'fanouts': {'sent': 0},
    'notifications': {'sent': 0, 'received': 0},
    'rpcRequests': {'handled': 0},
}


class Reporter(object):
    """Writes events/<service>.jsonl and run/<service>.stats.json.

    Each event line is flushed at once because the lab server tails the
    file for its live view. Counters continue from the previous stats file
    so a restarted service does not make the lab's totals go backwards.
    """

    def __init__(self, home, service):
        self.service = service
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        os.makedirs(os.path.join(home, 'events'), exist_ok=True)
        os.makedirs(os.path.join(home, 'run'), exist_ok=True)
        self.events = open(os.path.join(home, 'events', service + '.jsonl'),
                           'a', encoding='utf-8')
        self.stats_path = os.path.join(home, 'run', service + '.stats.json')
        self.counters = json.loads(json.dumps(EMPTY_COUNTERS))
        try:
            with open(self.stats_path, encoding='utf-8') as f:
                old = json.load(f).get('counters', {})
            for group, values in self.counters.items():
                for key in values:
                    values[key] = int(old.get(group, {}).get(key, 0))
        except (OSError, ValueError, AttributeError):
            pass
        self.info = {'service': service, 'pid': os.getpid()}
        self.dirty = True
        self.closed = False
        self.thread = threading.Thread(target=self._flush_loop, daemon=True)
        self.thread.start()

    def set_info(self, **fields):
        with self.lock:
            self.info.update(fields)
            self.dirty = True

    def count(self, group, key, n=1):
        with self.lock:
            self.counters[group][key] += n
            self.dirty = True

    def emit(self, kind, **fields):
        event = {'t': now_ms(), 'service': self.service, 'kind': kind}
        event.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(event, separators=(',', ':'), default=str)
        with self.lock:
            if not self.closed:
                self.events.write(line + '\n')
                self.events.flush()

    def write_stats(self):
        # One writer at a time, snapshot to rename: an older snapshot must
        # never land after a newer one.
        with self.write_lock:
            with self.lock:
                if not self.dirty:
                    return
                doc = dict(self.info)
                doc['counters'] = json.loads(json.dumps(self.counters))
                doc['updatedAt'] = now_ms()
                self.dirty = False
            tmp = self.stats_path + '.tmp'
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(doc, f)
            os.replace(tmp, self.stats_path)

    def _flush_loop(self):
        while not self.closed:
            try:
                self.write_stats()
            except OSError:
                pass
            time.sleep(0.5)

    def close(self):
        try:
            self.write_stats()
        except OSError:
            pass
        with self.lock:
            self.closed = True
            self.events.close()


# Log lines of the two drivers that say a connection came up or went away.
# The AMQP 1.0 driver (pyngus) and the rabbit driver (kombu) word them
# differently; both name host and port.
_CONNECTED = [
    re.compile(r'Messaging is active \(([^:()]+):(\d+)'),
    re.compile(r'Connected to AMQP server on ([^:\s]+):(\d+)'),
    re.compile(r'Reconnected to AMQP server on ([^:\s]+):(\d+)'),
]
_LOST = [
    re.compile(r'Socket failure'),
    re.compile(r'AMQP Connection failure'),
    re.compile(r'Connection closed by peer'),
    re.compile(r'AMQP server on ([^:\s]+):(\d+) is unreachable'),
    re.compile(r'AMQP server ([^:\s]+):(\d+) closed the connection'),
    re.compile(r'Connection failed:'),
]


class TransportWatch(logging.Handler):
    """Turns the drivers' connection log lines into transport events.

    The drivers have no public connection callbacks, but they log every
    connect and every loss with host and port: that is what the failover
    view animates.
    """

    def __init__(self, reporter, rpc_scheme):
        logging.Handler.__init__(self, level=logging.DEBUG)
        self.reporter = reporter
        # connectedTo follows the RPC connection: that is what fails over.
        self.rpc_scheme = rpc_scheme
        self.connected = {}  # scheme -> 'host:port'
        self.last_error = None
        self.changed = threading.Condition()

    def _scheme(self, record):
        return 'amqp' if 'amqp1' in record.name else 'rabbit'

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # a driver's bad format string must not stop us
            return
        scheme = self._scheme(record)
        if record.levelno >= logging.WARNING:
            self.last_error = msg
        for rx in _CONNECTED:
            m = rx.search(msg)
            if m:
                where = '%s:%s' % (m.group(1), m.group(2))
                with self.changed:
                    # report before waking the waiter: once a service says
                    # it is ready, its stats already name the connection
                    if self.connected.get(scheme) != where:
                        if scheme == self.rpc_scheme:
                            self.reporter.set_info(
                                connectedTo='amqp://' + where)
                        self.reporter.emit(
                            'transport.connected',
                            transport='%s://%s' % (scheme, where))
                    self.connected[scheme] = where
                    self.changed.notify_all()
                return
        for rx in _LOST:
            m = rx.search(msg)
            if m:
                with self.changed:
                    where = self.connected.pop(scheme, None)
                    self.changed.notify_all()
                if where is None and m.groups():
                    return  # still not connected: not a loss, a retry
                if where is not None:
                    self.reporter.emit('transport.lost',
                                       transport='%s://%s' % (scheme, where),
                                       error=msg[:300])
                    if scheme == self.rpc_scheme:
                        self.reporter.set_info(connectedTo=None)
                return

    def wait_connected(self, scheme, timeout):
        deadline = time.time() + timeout
        with self.changed:
            while scheme not in self.connected:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True
