"""Sends COUNT notifications through oslo.messaging with a lab's config file,
as a compute service would, and reports progress as JSON lines on stdout.

Each notification carries hmlab_id "<prefix>-<n>" (the lab's telemetry agent
writes it into its events), so a test can count exactly which ones arrived.
Usage: /usr/bin/python3 notify-burst.py --config-file etc/openstack.conf
       --count 10000 --rate 500 --prefix burst
"""
import argparse
import json
import sys
import time

from oslo_config import cfg
import oslo_messaging as om


def say(**fields):
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--config-file', required=True)
    p.add_argument('--count', type=int, required=True)
    p.add_argument('--rate', type=float, default=0, help='per second, 0: as fast as it goes')
    p.add_argument('--prefix', default='burst')
    a = p.parse_args()
    cfg.CONF(['--config-file', a.config_file], project='hmlab', default_config_files=[])
    transport = om.get_notification_transport(cfg.CONF)
    topics = list(cfg.CONF.oslo_messaging_notifications.topics) or ['notifications']
    # driver and retry come from [oslo_messaging_notifications], as for the services
    notifier = om.Notifier(transport, publisher_id='burst.test', topics=topics)
    failed = 0
    began = time.monotonic()
    for n in range(a.count):
        if a.rate > 0:
            due = began + n / a.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        payload = {'hmlab_id': '%s-%d' % (a.prefix, n), 'hmlab_sent': time.time() * 1000}
        try:
            notifier.info({}, 'hmlab.burst', payload)
        except Exception as e:  # with retry = -1 this should not happen
            failed += 1
            say(error='%s: %s' % (type(e).__name__, e), n=n)
        if (n + 1) % 100 == 0:
            say(sent=n + 1, failed=failed, t=time.monotonic() - began)
    say(done=True, sent=a.count, failed=failed, seconds=round(time.monotonic() - began, 1))
    transport.cleanup()


if __name__ == '__main__':
    main()
