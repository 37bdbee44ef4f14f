"""telemetry: a notification listener like ceilometer's agent.

Consumes the notification topics of [oslo_messaging_notifications] from
the notification transport, and reports every notification it receives.
"""
import time


class NotificationEndpoint(object):
    def __init__(self, rt):
        self.rt = rt

    def _received(self, priority, ctxt, publisher_id, event_type, payload,
                  metadata):
        payload = payload if isinstance(payload, dict) else {}
        sent = payload.get('hmlab_sent')
        latency = None
        if isinstance(sent, (int, float)):
            latency = round(max(0.0, time.time() * 1000 - sent), 3)
        self.rt.reporter.emit(
            'notify.received',
            id=payload.get('hmlab_id') or (metadata or {}).get('message_id'),
            method=event_type, priority=priority, publisher=publisher_id,
            latencyMs=latency, ok=True,
            transport=self.rt.reporter.info['transport']['notify'])
        self.rt.reporter.count('notifications', 'received')

    def audit(self, *a):
        self._received('audit', *a)

    def debug(self, *a):
        self._received('debug', *a)

    def info(self, *a):
        self._received('info', *a)

    def warn(self, *a):
        self._received('warn', *a)

    def error(self, *a):
        self._received('error', *a)

    def critical(self, *a):
        self._received('critical', *a)

    def sample(self, *a):
        self._received('sample', *a)


def run(rt):
    om = rt.om
    topics = list(rt.conf.oslo_messaging_notifications.topics) \
        or ['notifications']
    targets = [om.Target(topic=t) for t in topics]
    listener = om.get_notification_listener(
        rt.notify_transport, targets, [NotificationEndpoint(rt)],
        executor='threading')
    rt.connect(rt.notify_url, listener.start)
    rt.ready()
    rt.run_until_stopped([listener])
