// Where a tenant may make Switchboard connect to. A tenant admin chooses outgoing webhook URLs;
// without a check they could aim them at the operator's internal network or a cloud metadata
// endpoint (169.254.169.254) and read the answers' status codes and timings (SSRF). Private,
// loopback, link-local and other non-public addresses are refused unless the operator lists the
// host or network in PRIVATE_NETWORK_ALLOWLIST. The address is checked when the connection is
// made (lookup hook), so a name that resolves to a public address at registration and to a
// private one later (DNS rebinding) is still refused.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/** Ranges that are not the public internet (IANA special-purpose registries). */
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

export class NetworkPolicy {
  private readonly hosts = new Set<string>();
  private readonly networks = new BlockList();
  private readonly anything: boolean;

  /** `allowlist`: host names, IP addresses and CIDR networks (`10.1.0.0/16`) allowed although private; `*` allows all. */
  constructor(allowlist: string[] = []) {
    this.anything = allowlist.includes('*');
    for (const raw of allowlist.map((s) => s.trim().toLowerCase()).filter(Boolean)) {
      const [addr, bits] = raw.split('/');
      const family = isIP(addr ?? '');
      if (family && bits !== undefined) this.networks.addSubnet(addr!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
      else if (family) this.networks.addAddress(addr!, family === 4 ? 'ipv4' : 'ipv6');
      else this.hosts.add(raw);
    }
  }

  /** Why connecting to `address` (resolved from `host`) is refused, or null when it is allowed. */
  refusal(host: string, address: string): string | null {
    if (this.anything || this.hosts.has(host.toLowerCase().replace(/^\[|\]$/g, ''))) return null;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (mapped) return this.refusal(host, mapped);
    if (this.networks.check(address, family)) return null;
    return NON_PUBLIC.check(address, family) ? `${host} is a private or reserved address (${address})` : null;
  }

  /** A `lookup` for node:http(s) that refuses private addresses at connect time. */
  readonly lookup = (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      const refused = list.map((a) => this.refusal(hostname, a.address)).find(Boolean);
      if (refused) return callback(Object.assign(new Error(`refused: ${refused}`), { code: 'EPRIVATE' }), '');
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };

  /** Why connecting to a host name or address is refused (resolving a name now), or null. */
  async checkHost(host: string): Promise<string | null> {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare)) return this.refusal(bare, bare);
    return new Promise((resolve) => {
      // A name that does not resolve (yet) is accepted here: connecting to it fails and says so.
      this.lookup(bare, {}, (err) => resolve(err?.code === 'EPRIVATE' ? err.message.replace(/^refused: /, '') : null));
    });
  }

  /**
   * Checks a URL before it is stored: an IP literal at once, a name by resolving it now (it is
   * checked again at every connection). Returns why it is refused, or null.
   */
  async check(url: string): Promise<string | null> {
    let parsed: URL;
    try { parsed = new URL(url); } catch { return 'not a URL'; }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'only http and https URLs are allowed';
    return this.checkHost(parsed.hostname);
  }
}
