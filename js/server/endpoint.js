/**
 * Where sealpost/server may send a push. Subscriptions come from users, so an endpoint is untrusted
 * input: without these checks an app server that sends to them can be made to reach its own network
 * (SSRF). An endpoint must be https:, name a host (not an IP literal), match `pushServiceHosts` when it is
 * given, and resolve only to public addresses — checked in the connection's own DNS lookup, so a name that
 * resolves differently on a second lookup (DNS rebinding) cannot slip through. `allowPrivateAddresses`
 * lifts the address checks: for tests against a loopback service and for push services on a private
 * network, nothing else.
 */
import dns from 'node:dns';
import net from 'node:net';

import { SealpostError } from '../errors.js';

/** The push services of Chrome/Edge (FCM), Firefox (Mozilla autopush), Safari (Apple) and Windows (WNS). */
export const KNOWN_PUSH_SERVICES = Object.freeze(['fcm.googleapis.com', 'android.googleapis.com',
  '*.push.services.mozilla.com', 'web.push.apple.com', '*.push.apple.com', '*.notify.windows.com']);

// Addresses no user-supplied endpoint may reach: this host, private and shared networks, link-local,
// documentation, benchmarking, multicast and reserved ranges (IANA special-purpose registries).
const PRIVATE = new net.BlockList();
for (const [prefix, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8],
  ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4],
  ['240.0.0.0', 4]]) {
  PRIVATE.addSubnet(prefix, bits, 'ipv4');
}
for (const [prefix, bits] of [['::', 128], ['::1', 128], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7],
  ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]]) {
  PRIVATE.addSubnet(prefix, bits, 'ipv6');
}

/** Whether `address` (IPv4 or IPv6 text) is one a push endpoint may not reach. */
export function isPrivateAddress(address) {
  const family = net.isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d) is judged as IPv4.
  const embedded = lower.match(/^(?:::ffff:|64:ff9b::)(?:0:)?([0-9.]+)$/)?.[1]
    ?? hexEmbedded(lower.match(/^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/));
  if (embedded) return isPrivateAddress(embedded);
  return PRIVATE.check(lower, 'ipv6');
}

function hexEmbedded(match) {
  if (!match) return null;
  const high = parseInt(match[1], 16);
  const low = parseInt(match[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

function matches(host, pattern) {
  const p = pattern.toLowerCase();
  return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
}

function refused(message) {
  return new SealpostError('endpoint-refused', message);
}

/**
 * Checks an endpoint before anything is sent → {url, known}: `known` when the host is a push service
 * (KNOWN_PUSH_SERVICES or `pushServiceHosts`), whose error bodies may be passed on. Throws
 * 'endpoint-refused'.
 * @param {string} endpoint
 * @param {{pushServiceHosts?: string[], allowPrivateAddresses?: boolean}} options
 */
export function checkEndpoint(endpoint, { pushServiceHosts, allowPrivateAddresses = false } = {}) {
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw refused('the subscription endpoint is not a URL');
  }
  if (url.protocol !== 'https:') throw refused(`push endpoints are https: only, not ${url.protocol}`);
  if (url.username || url.password) throw refused('a push endpoint carries no credentials');
  const host = url.hostname.toLowerCase();
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (net.isIP(bare) && !allowPrivateAddresses) {
    throw refused(`push endpoints name a host, not an IP address (${bare})`);
  }
  if (pushServiceHosts && !pushServiceHosts.some((pattern) => matches(host, pattern))) {
    throw refused(`${host} is not one of pushServiceHosts`);
  }
  const known = [...KNOWN_PUSH_SERVICES, ...(pushServiceHosts ?? [])].some((pattern) => matches(host, pattern));
  return { url, known };
}

/**
 * A `lookup` for https.request that refuses private addresses in the very lookup the connection uses.
 * @param {boolean} allowPrivateAddresses
 */
export function guardedLookup(allowPrivateAddresses) {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error);
        return;
      }
      const bad = addresses.find((entry) => isPrivateAddress(entry.address));
      if (bad && !allowPrivateAddresses) {
        callback(refused(`${hostname} resolves to ${bad.address}, which push endpoints may not reach`));
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
