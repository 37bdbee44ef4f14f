// `hmlab qdstat`: qdstat's tables (-g, -c, -l, -a, -n) read over AMQP
// management, against the embedded router or a real qdrouterd alike.
import { ManagementClient, type ManagementClientOptions } from './management-client.js';

export type QdstatView = 'general' | 'connections' | 'links' | 'addresses' | 'nodes';

function dhms(seconds: unknown): string {
  const s = typeof seconds === 'number' && Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : null;
  if (s === null) return '-';
  const d = Math.floor(s / 86400);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${String(d).padStart(3, '0')}:${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (Array.isArray(v)) return `[${v.map((x) => `'${String(x)}'`).join(', ')}]`;
  return String(v);
}

/** A qdstat-style table: title, header, a ruler, rows; columns padded to fit. */
export function table(title: string, heads: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = heads.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (cols: string[]) => '  ' + cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const header = line(heads);
  const out = [title, header, '  ' + '='.repeat(Math.max(0, header.length - 2)), ...cells.map(line)];
  return out.join('\n') + '\n';
}

const CLASS: Record<string, string> = {
  M: 'mobile', L: 'local', R: 'router', A: 'area', T: 'topo', C: 'link-in', D: 'link-out', E: 'edge', H: 'edge', I: 'link-in',
};

export async function qdstat(host: string, port: number, view: QdstatView, opts: ManagementClientOptions & { header?: boolean } = {}): Promise<string> {
  const m = await ManagementClient.connect(host, port, opts);
  try {
    if (opts.header === false) return await body(m, view);
    // like qdstat: when and which router, then the table
    const [r] = await m.query('router', ['id']);
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    return `${now} UTC\n${String(r?.id ?? m.containerId ?? '')}\n\n${await body(m, view)}`;
  } finally {
    await m.close();
  }
}

async function body(m: ManagementClient, view: QdstatView): Promise<string> {
  switch (view) {
    case 'general': {
      const [r] = await m.query('router');
      if (!r) return 'Router Statistics\n  (no router entity)\n';
      const rows: [string, unknown][] = [
        ['Version', r.version], ['Mode', r.mode], ['Router Id', r.id], ['Product', m.product ?? '-'], ['Worker Threads', r.workerThreads],
        ['Uptime', dhms(r.uptimeSeconds)], ['Area', r.area], ['Links', r.linkCount], ['Nodes', r.nodeCount], ['Addresses', r.addrCount],
        ['Connections', r.connectionCount], ['Presettled Count', r.presettledDeliveries], ['Dropped Presettled Count', r.droppedPresettledDeliveries],
        ['Accepted Count', r.acceptedDeliveries], ['Rejected Count', r.rejectedDeliveries], ['Released Count', r.releasedDeliveries],
        ['Modified Count', r.modifiedDeliveries], ['Deliveries Delayed > 1sec', r.deliveriesDelayed1Sec],
        ['Deliveries Delayed > 10sec', r.deliveriesDelayed10Sec],
        ['Ingress Count', r.deliveriesIngress], ['Egress Count', r.deliveriesEgress], ['Transit Count', r.deliveriesTransit],
        ['Deliveries from Route Container', r.deliveriesIngressRouteContainer], ['Deliveries to Route Container', r.deliveriesEgressRouteContainer],
      ];
      return table('Router Statistics', ['attr', 'value'], rows);
    }
    case 'connections': {
      const rows = await m.query('connection', ['identity', 'host', 'container', 'role', 'dir', 'isEncrypted', 'sasl', 'user',
        'uptimeSeconds', 'lastDlvSeconds']);
      return table('Connections', ['id', 'host', 'container', 'role', 'dir', 'security', 'authentication', 'last dlv', 'uptime'],
        rows.map((c) => [c.identity, c.host, c.container, c.role, c.dir, c.isEncrypted ? 'ssl' : 'no-security',
          c.sasl === 'ANONYMOUS' || !c.user ? 'anonymous-user' : `${String(c.user)}(${String(c.sasl)})`, dhms(c.lastDlvSeconds), dhms(c.uptimeSeconds)]));
    }
    case 'links': {
      const rows = await m.query('router.link', ['linkType', 'linkDir', 'connectionId', 'identity', 'peer', 'owningAddr', 'capacity', 'undeliveredCount',
        'unsettledCount', 'deliveryCount', 'presettledCount', 'droppedPresettledCount', 'acceptedCount', 'rejectedCount', 'releasedCount',
        'modifiedCount', 'creditAvailable']);
      const header = ['type', 'dir', 'conn id', 'id', 'peer', 'class', 'addr', 'phs', 'cap', 'undel', 'unsett',
        'deliv', 'presett', 'psdrop', 'acc', 'rej', 'rel', 'mod', 'cred'];
      return table('Router Links', header,
        rows.map((l) => {
          const a = typeof l.owningAddr === 'string' ? l.owningAddr : '';
          const cls = a ? CLASS[a[0]] ?? a[0] : '';
          const phs = a[0] === 'M' ? a[1] : '';
          const addr = a ? (a[0] === 'M' ? a.slice(2) : a.slice(1)) : '';
          return [l.linkType, l.linkDir, l.connectionId, l.identity, l.peer, cls, addr, phs, l.capacity, l.undeliveredCount, l.unsettledCount,
            l.deliveryCount, l.presettledCount, l.droppedPresettledCount, l.acceptedCount, l.rejectedCount, l.releasedCount, l.modifiedCount,
            l.creditAvailable];
        }));
    }
    case 'addresses': {
      const rows = await m.query('router.address', ['key', 'distribution', 'inProcess', 'subscriberCount', 'remoteCount',
        'deliveriesIngress', 'deliveriesEgress', 'deliveriesTransit']);
      return table('Router Addresses', ['class', 'addr', 'phs', 'distrib', 'in-proc', 'local', 'remote', 'in', 'out', 'thru'],
        rows.map((a) => {
          const k = String(a.key ?? '');
          return [CLASS[k[0]] ?? k[0], k[0] === 'M' ? k.slice(2) : k.slice(1), k[0] === 'M' ? k[1] : '', a.distribution, a.inProcess, a.subscriberCount,
            a.remoteCount, a.deliveriesIngress, a.deliveriesEgress, a.deliveriesTransit];
        }));
    }
    case 'nodes': {
      const rows = await m.query('router.node', ['id', 'nextHop', 'routerLink', 'protocolVersion', 'cost', 'linkState', 'validOrigins']);
      if (!rows.length) return 'Router is Standalone - No Router List\n';
      rows.sort((x, y) => String(x.id).localeCompare(String(y.id)));
      return table('Routers in the Network', ['router-id', 'next-hop', 'link', 'ver', 'cost', 'neighbors', 'valid-origins'],
        rows.map((n) => [n.id, n.nextHop, n.routerLink, n.protocolVersion, n.cost, n.linkState ?? [], n.validOrigins ?? []]));
    }
  }
}
