"""Entry point: python3 -m hmlab_openstack ROLE --name NAME --home HOME
--config-file etc/openstack.conf [--config-file etc/NAME.conf]

ROLE is compute, conductor or telemetry. The lab starts one process per
service; each reads the lab's oslo.config files like a real OpenStack
service would.
"""
import argparse
import faulthandler
import importlib.metadata
import logging
import os
import signal
import socket
import sys
import threading
import time

from hmlab_openstack.report import Reporter, TransportWatch, redact

DEFAULT_PORTS = {'rabbit': 5672, 'amqp': 5672}


def scheme_of(url):
    scheme = (url or '').split(':', 1)[0].split('+', 1)[0]
    return 'amqp' if scheme == 'amqp' else 'rabbit'


def start_at_first_host():
    """Make the AMQP 1.0 driver connect to the first host of its URL.

    oslo.messaging 14.0.3 starts at a random host of transport_url and then
    moves round-robin. The lab orders each service's hosts so that the
    services spread over the mesh (etc/<service>.conf); starting at the first
    host keeps that picture predictable. Failover is unchanged.
    """
    try:
        from oslo_messaging._drivers.amqp1_driver import controller
    except ImportError:  # no AMQP 1.0 driver: nothing to adjust
        return
    original = controller.Hosts.__init__
    if getattr(original, 'hmlab_first_host', False):
        return

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._current = 0
    init.hmlab_first_host = True
    controller.Hosts.__init__ = init


class BusyClock(object):
    """Seconds of a timeout counted as the machine could give them.

    While the load average is above the number of cores, a second counts
    for cores/load (at least 1/8), as the lab's ready timeouts do: a room of
    labs booting at once on a full machine waits longer instead of failing,
    and a service that cannot connect on an idle machine still fails in
    its time.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.counted = 0.0
        self.last = time.monotonic()
        self.t0 = self.last
        self.lock = threading.Lock()  # the watchdog reads it too

    def left(self):
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
        cores = len(os.sched_getaffinity(0)) or 1
        with self.lock:
            now = time.monotonic()
            self.counted += (now - self.last) * max(
                1.0 / 8, min(1.0, cores / max(load, 0.01)))
            self.last = now
            return self.seconds - self.counted

    def waited(self):
        return time.monotonic() - self.t0


class Runtime(object):
    """What every service shares: config, transports, reporting, shutdown."""

    def __init__(self, args, conf_args):
        self.name = args.name
        self.home = args.home
        self.role = args.role
        self.stopping = threading.Event()
        self.started = False
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s %(name)s: %(message)s'))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        self.log = logging.getLogger('hmlab.' + self.name)

        from oslo_config import cfg
        import oslo_messaging
        self.cfg = cfg
        self.om = oslo_messaging
        # The global CONF: oslo.messaging's call() looks options up on it,
        # a private ConfigOpts fails with NoSuchOptError.
        self.conf = cfg.CONF
        try:
            self.conf(conf_args, project='hmlab', default_config_files=[])
        except cfg.Error as e:
            self.fail(2, 'configuration error: %s' % e)
        # Registers [DEFAULT] transport_url and [oslo_messaging_notifications].
        try:
            self.rpc_transport = oslo_messaging.get_rpc_transport(self.conf)
            self.notify_transport = \
                oslo_messaging.get_notification_transport(self.conf)
        except Exception as e:  # bad URL, unknown driver, missing library
            self.fail(2, 'cannot load the transport: %s: %s'
                      % (type(e).__name__, e))
        notif = self.conf.oslo_messaging_notifications
        self.rpc_url = self.conf.transport_url
        self.notify_url = notif.transport_url or self.rpc_url
        self.notifications_on = bool(notif.driver)

        self.reporter = Reporter(self.home, self.name)
        # connectedTo follows the connection that matters for the service:
        # RPC, or notifications for the listener that only consumes those.
        main_url = self.notify_url if self.role == 'telemetry' else self.rpc_url
        self.watch = TransportWatch(self.reporter, scheme_of(main_url))
        start_at_first_host()
        # oslo_log names some driver loggers "oslo.messaging", plain logging
        # "oslo_messaging"; the connect lines are debug level.
        for prefix in ('oslo.messaging._drivers', 'oslo_messaging._drivers'):
            logging.getLogger(prefix).addHandler(self.watch)
            for driver in ('impl_rabbit', 'amqp1_driver'):
                logging.getLogger(prefix + '.' + driver).setLevel(
                    logging.DEBUG)
        self.reporter.set_info(
            role=self.role,
            product='oslo.messaging %s'
                    % importlib.metadata.version('oslo.messaging'),
            transport={'rpc': redact(self.rpc_url),
                       'notify': redact(self.notify_url)},
            notifications=self.notifications_on,
            notificationTopics=list(notif.topics),
            connectedTo=None)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.connect_timeout = float(
            os.environ.get('HMLAB_CONNECT_TIMEOUT', '60'))

    def _on_signal(self, *args):
        if not self.started:
            os._exit(0)  # still connecting: nothing to close cleanly
        self.stopping.set()

    def fail(self, code, message):
        sys.stderr.write('hmlab: %s: %s\n' % (self.name, message))
        sys.stderr.flush()
        os._exit(code)

    def hosts(self, url):
        parsed = self.om.TransportURL.parse(self.conf, url)
        default = DEFAULT_PORTS.get(scheme_of(url), 5672)
        return [(h.hostname or '127.0.0.1', h.port or default)
                for h in parsed.hosts] or [('127.0.0.1', default)]

    def wait_reachable(self, url, clock):
        """Wait until a host of the URL accepts TCP.

        The lab starts the broker and the services together; polling the
        port tightly lets a service attach the moment its broker listens,
        instead of sleeping through the driver's growing retry backoff.
        While the whole lab boots (HMLAB_WAIT_FIRST_HOST=1) only the first
        host counts: on a busy machine another router of the mesh can listen
        first, and the driver would start there instead of on the router
        the lab placed the service on.
        """
        hosts = self.hosts(url)
        if os.environ.get('HMLAB_WAIT_FIRST_HOST') == '1':
            hosts = hosts[:1]
        last = None
        while clock.left() > 0 and not self.stopping.is_set():
            for host, port in hosts:
                try:
                    socket.create_connection((host, port), 0.5).close()
                    return None
                except OSError as e:
                    last = '%s:%s: %s' % (host, port, e)
            time.sleep(0.05)
        return last

    def start_watchdog(self, url, clock):
        """Exit with a clear message if the driver never connects."""
        def check():
            while not self.started and not self.stopping.is_set():
                if clock.left() < -4:
                    said = self.watch.last_error or 'no answer'
                    self.fail(3, 'cannot connect to %s within %d s; the '
                              'driver said: %s' % (redact(url),
                                                   clock.waited(), said))
                time.sleep(0.5)
        threading.Thread(target=check, daemon=True).start()

    def connect(self, url, start):
        """Start a server on url and wait until its driver is connected."""
        clock = BusyClock(self.connect_timeout)
        self.start_watchdog(url, clock)
        problem = self.wait_reachable(url, clock)
        if problem:
            self.log.warning('no host of %s accepts connections yet (%s); '
                             'leaving it to the driver', redact(url), problem)
        start()
        # The rabbit driver connects inside start(); the AMQP 1.0 driver
        # connects in its own thread, so wait for its "active" log line.
        scheme = scheme_of(url)
        while not self.watch.wait_connected(scheme, 0.5):
            if clock.left() < -3:
                self.fail(3, 'cannot connect to %s; the driver said: %s'
                          % (redact(url),
                             self.watch.last_error or 'no answer'))

    def ready(self):
        self.started = True
        self.reporter.write_stats()  # before the event: the lab reads both
        self.reporter.emit('service.started', transport=redact(self.rpc_url))
        self.log.info('%s ready (rpc %s, notifications %s)', self.name,
                      redact(self.rpc_url),
                      redact(self.notify_url) if self.notifications_on
                      else 'off: [oslo_messaging_notifications] driver unset')

    def run_until_stopped(self, servers):
        while not self.stopping.wait(0.5):
            pass
        self.reporter.emit('service.stopping')

        def shutdown():
            for s in servers:
                try:
                    s.stop()
                    s.wait()
                except Exception:
                    pass
            for t in (self.rpc_transport, self.notify_transport):
                try:
                    t.cleanup()
                except Exception:
                    pass
        t = threading.Thread(target=shutdown, daemon=True)
        t.start()
        t.join(3)  # a driver stuck on a dead peer must not block the stop
        self.reporter.close()
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(prog='hmlab_openstack')
    parser.add_argument('role', choices=['compute', 'conductor', 'telemetry'])
    parser.add_argument('--name', required=True)
    parser.add_argument('--home', required=True)
    args, rest = parser.parse_known_args()
    # kill -USR1 PID prints every thread's stack into the service's log
    faulthandler.register(signal.SIGUSR1)
    rt = Runtime(args, rest)
    if args.role == 'compute':
        from hmlab_openstack import compute
        compute.run(rt)
    elif args.role == 'conductor':
        from hmlab_openstack import conductor
        conductor.run(rt)
    else:
        from hmlab_openstack import telemetry
        telemetry.run(rt)


if __name__ == '__main__':
    main()
