"""OpenStack-style services for the hybrid messaging lab.

Small stand-ins for nova-compute, nova-conductor and ceilometer's
notification agent, built on real oslo.messaging. Every messaging
operation is reported as one JSON line, so the lab can show and count it.
"""
