"""compute-N: an RPC server like nova-compute.

Listens on topic "compute" with its host name as server, so it gets calls
and casts for the topic (shared with the other computes), those addressed to
it by name, and fanouts. Building or rebooting an instance emits
compute.instance.* notifications on the notification transport.
"""
import time
import uuid


class ComputeManager(object):
    def __init__(self, rt, notifier):
        self.rt = rt
        self.notifier = notifier
        self.server_target = rt.om.Target(topic='compute', server=rt.name)

    # -- reporting helpers ------------------------------------------------
    def _request(self, ctxt, method):
        op = (ctxt or {}).get('hmlab_op', 'call')
        self.rt.reporter.emit(
            'rpc.request', id=(ctxt or {}).get('request_id'), method=method,
            target={'topic': 'compute', 'server': self.rt.name,
                    'fanout': op == 'fanout'},
            transport=self.rt.reporter.info.get('connectedTo'))
        self.rt.reporter.count('rpcRequests', 'handled')
        return op, time.monotonic()

    def _reply(self, ctxt, method, started, result):
        self.rt.reporter.emit(
            'rpc.reply', id=(ctxt or {}).get('request_id'), method=method,
            ok=True, latencyMs=round((time.monotonic() - started) * 1000, 3),
            target={'topic': 'compute', 'server': self.rt.name})
        return result

    def _notify(self, ctxt, event_type, instance, priority='info'):
        if not self.notifier.is_enabled():
            return  # no [oslo_messaging_notifications] driver: nothing is sent
        nid = 'ntf-' + uuid.uuid4().hex[:16]
        payload = {'instance_id': instance, 'host': self.rt.name,
                   'state': event_type.rsplit('.', 1)[-1],
                   'hmlab_id': nid, 'hmlab_sent': time.time() * 1000}
        ok, error = True, None
        try:
            getattr(self.notifier, priority)(
                {'request_id': (ctxt or {}).get('request_id')},
                event_type, payload)
        except Exception as e:
            ok, error = False, '%s: %s' % (type(e).__name__, e)
        self.rt.reporter.emit(
            'notify.sent', id=nid, method=event_type, priority=priority,
            publisher=self.notifier.publisher_id, ok=ok, error=error,
            transport=self.rt.reporter.info['transport']['notify'])
        if ok:
            self.rt.reporter.count('notifications', 'sent')

    # -- endpoint methods, named like nova-compute's ------------------------
    def ping(self, ctxt, **kwargs):
        # The reply names this server: a caller of the topic learns which
        # compute the router picked.
        op, t0 = self._request(ctxt, 'ping')
        return self._reply(ctxt, 'ping', t0, {'host': self.rt.name})

    def get_console_output(self, ctxt, instance=None, tail_length=10):
        op, t0 = self._request(ctxt, 'get_console_output')
        text = '[%s] console of %s: login: ' % (self.rt.name, instance)
        return self._reply(ctxt, 'get_console_output', t0, text)

    def build_and_run_instance(self, ctxt, instance=None, **kwargs):
        self._request(ctxt, 'build_and_run_instance')
        self._notify(ctxt, 'compute.instance.create.start', instance)
        self._notify(ctxt, 'compute.instance.create.end', instance)

    def reboot_instance(self, ctxt, instance=None, reboot_type='SOFT'):
        self._request(ctxt, 'reboot_instance')
        self._notify(ctxt, 'compute.instance.reboot.start', instance)
        self._notify(ctxt, 'compute.instance.reboot.end', instance)

    def refresh_instance_security_rules(self, ctxt, instance=None):
        self._request(ctxt, 'refresh_instance_security_rules')


def run(rt):
    om = rt.om
    notifier = om.Notifier(rt.notify_transport,
                           publisher_id='compute.' + rt.name)
    manager = ComputeManager(rt, notifier)
    server = om.get_rpc_server(
        rt.rpc_transport, manager.server_target, [manager], executor='threading',
        access_policy=om.DefaultRPCAccessPolicy)
    rt.connect(rt.rpc_url, server.start)
    rt.ready()
    rt.run_until_stopped([server])
