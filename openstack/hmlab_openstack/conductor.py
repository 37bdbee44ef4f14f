"""conductor: an RPC client like nova-conductor.

Issues calls (to the compute topic and to a named compute), casts and
fanouts at the rate in etc/traffic.json, which it re-reads every second so
the lab can change the rate (0 pauses) without a restart. It also serves
topic "conductor", as the real one does.

Like nova-conductor, it runs many calls at once: a pool of workers
(`[hmlab] conductor_workers` in openstack.conf), so a call stuck on a dead
router holds one worker until its timeout while the others carry on.
"""
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

# One cycle of operations: mostly calls, some casts, a fanout.
PATTERN = ['call', 'call-server', 'cast', 'call', 'fanout',
           'call-server', 'cast-reboot', 'call']
DEFAULTS = {'rate': 5.0, 'callTimeout': 10,
            'servers': ['compute-1', 'compute-2']}
DEFAULT_WORKERS = 32


def register_opts(rt):
    """[hmlab] conductor_workers: how many operations may be in flight at once."""
    cfg = rt.cfg
    rt.conf.register_opts([cfg.IntOpt(
        'conductor_workers', default=DEFAULT_WORKERS, min=1, max=256,
        help='Operations the conductor runs at once. A call whose reply '
             'died with a router holds its worker until the call times '
             'out; the other workers carry on.')], group='hmlab')
    try:
        return rt.conf.hmlab.conductor_workers
    except (cfg.Error, ValueError) as e:
        rt.fail(2, 'configuration error: [hmlab] conductor_workers: %s '
                   '(give a whole number from 1 to 256)' % e)


class Traffic(object):
    def __init__(self, rt):
        self.rt = rt
        self.path = os.path.join(rt.home, 'etc', 'traffic.json')
        self.settings = dict(DEFAULTS)
        self.mtime = None

    def reload(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
            if mtime == self.mtime:
                return
            with open(self.path, encoding='utf-8') as f:
                doc = json.load(f)
            self.mtime = mtime
            settings = dict(DEFAULTS)
            rate = float(doc.get('rate', DEFAULTS['rate']))
            settings['rate'] = max(0.0, min(rate, 1000.0))
            timeout = int(doc.get('callTimeout', DEFAULTS['callTimeout']))
            settings['callTimeout'] = max(1, timeout)
            servers = doc.get('servers') or DEFAULTS['servers']
            settings['servers'] = [str(s) for s in servers]
            self.settings = settings
        except FileNotFoundError:
            self.settings = dict(DEFAULTS)
        except (OSError, ValueError, TypeError, AttributeError) as e:
            self.rt.log.warning('ignoring %s: %s', self.path, e)


def answered_by(result, server):
    """Which server answered a call.

    A call to the topic goes to whichever server the router's distribution
    picks; the computes' ping replies with its host name (oslo.messaging
    returns what the endpoint returns), so the reply says who answered. A
    call to a named server can only be answered by that server.
    """
    if isinstance(result, dict) and isinstance(result.get('host'), str):
        return result['host']
    return server


class ConductorEndpoint(object):
    """What the conductor serves on topic "conductor"."""

    def __init__(self, rt):
        self.rt = rt

    def ping(self, ctxt, **kwargs):
        return {'host': self.rt.name}


class Conductor(object):
    def __init__(self, rt, workers):
        self.rt = rt
        om = rt.om
        self.client = om.get_rpc_client(rt.rpc_transport,
                                        om.Target(topic='compute'))
        self.traffic = Traffic(rt)
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.inflight = 0
        self.named = 0  # calls to a named server so far, to take turns
        self.lock = threading.Lock()

    def _op(self, kind, n):
        rt = self.rt
        s = self.traffic.settings
        servers = s['servers']
        rid = 'req-' + uuid.uuid4().hex[:16]
        instance = uuid.uuid4().hex[:12]
        server = None
        fanout = False
        if kind == 'call-server' and servers:
            # A counter of its own: the cycle's positions would always pick
            # the same server out of two.
            with self.lock:
                server = servers[self.named % len(servers)]
                self.named += 1
        if kind == 'fanout':
            fanout = True
        op = {'call': 'call', 'call-server': 'call', 'cast': 'cast',
              'cast-reboot': 'cast', 'fanout': 'fanout'}[kind]
        method = {'call': 'ping', 'call-server': 'get_console_output',
                  'cast': 'build_and_run_instance',
                  'cast-reboot': 'reboot_instance',
                  'fanout': 'refresh_instance_security_rules'}[kind]
        ctxt = {'request_id': rid, 'hmlab_op': op}
        target = {'topic': 'compute', 'server': server, 'fanout': fanout}
        cctx = self.client.prepare(server=server, fanout=fanout,
                                   timeout=s['callTimeout'])
        t0 = time.monotonic()
        ok, error, answered = True, None, None
        try:
            if op == 'call':
                answered = answered_by(
                    cctx.call(ctxt, method, instance=instance), server)
            else:
                cctx.cast(ctxt, method, instance=instance)
        except Exception as e:
            ok, error = False, '%s: %s' % (type(e).__name__, e)
        latency = round((time.monotonic() - t0) * 1000, 3)
        kind_name = {'call': 'rpc.call', 'cast': 'rpc.cast',
                     'fanout': 'rpc.fanout'}[op]
        rt.reporter.emit(kind_name, id=rid, method=method, target=target,
                         ok=ok, error=error, latencyMs=latency,
                         answeredBy=answered,
                         transport=rt.reporter.info.get('connectedTo')
                         or rt.reporter.info['transport']['rpc'])
        if op == 'call':
            rt.reporter.count('rpcCalls', 'ok' if ok else 'failed')
        elif ok:
            rt.reporter.count('rpcCasts' if op == 'cast' else 'fanouts',
                              'sent')

    def _run_op(self, kind, n):
        try:
            self._op(kind, n)
        except Exception:
            self.rt.log.exception('operation %s failed', kind)
        finally:
            with self.lock:
                self.inflight -= 1

    def drive(self):
        """Submit operations at the configured rate until stopped."""
        n = 0
        next_t = time.monotonic()
        last_reload = 0.0
        while not self.rt.stopping.is_set():
            now = time.monotonic()
            if now - last_reload >= 1.0:
                self.traffic.reload()
                last_reload = now
            rate = self.traffic.settings['rate']
            if rate <= 0:
                next_t = now
                self.rt.stopping.wait(0.2)
                continue
            if now < next_t:
                self.rt.stopping.wait(min(next_t - now, 0.2))
                continue
            # after a pause or a stall, do not burst to catch up
            next_t = max(next_t + 1.0 / rate, now - 1.0)
            with self.lock:
                busy = self.inflight >= self.workers
                if not busy:
                    self.inflight += 1
            if busy:
                continue  # every worker waits on a dead peer: skip this tick
            self.pool.submit(self._run_op, PATTERN[n % len(PATTERN)], n)
            n += 1


def run(rt):
    om = rt.om
    conductor = Conductor(rt, register_opts(rt))
    rt.log.info('conductor: %d workers', conductor.workers)
    server = om.get_rpc_server(
        rt.rpc_transport, om.Target(topic='conductor', server=rt.name),
        [ConductorEndpoint(rt)], executor='threading',
        access_policy=om.DefaultRPCAccessPolicy)
    rt.connect(rt.rpc_url, server.start)
    rt.ready()
    threading.Thread(target=conductor.drive, daemon=True).start()
    rt.run_until_stopped([server])
