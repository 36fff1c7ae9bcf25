// WhatsApp identifiers: wa_id normalization, 2026 business-scoped user ids (BSUID, `CC.<digits>`),
// wamid message ids, numeric Graph ids, and stable phone numbers for non-numeric customer keys.
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** `to` as the Cloud API takes it: digits with optional `+`, spaces, dashes, parentheses → digits only. */
export function normalizeWaId(input: string): string | undefined {
  if (!/^\+?[\d\s\-().]+$/.test(input.trim())) return undefined;
  const digits = input.replace(/\D/g, '');
  return digits.length >= 8 && digits.length <= 15 ? digits : undefined;
}

export const isBsuid = (value: string) => /^[A-Z]{2}\.\d{6,}$/.test(value);

// Calling-code prefixes of the customers the sandbox seeds or derives; others fall back to US.
const COUNTRY_BY_PREFIX: Array<[string, string]> = [['521', 'MX'], ['52', 'MX'], ['55', 'BR'], ['34', 'ES'], ['44', 'GB'], ['49', 'DE'], ['33', 'FR'], ['91', 'IN'], ['1', 'US']];

/** The business-scoped user id Meta gives a user per business portfolio (stable for the pair). */
export function bsuidFor(waId: string, businessId: string): string {
  const country = COUNTRY_BY_PREFIX.find(([prefix]) => waId.startsWith(prefix))?.[1] ?? 'US';
  const digest = createHash('sha256').update(`${businessId}:${waId}`).digest();
  return `${country}.${(digest.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '1')}`;
}

/**
 * A wamid: base64 of the protobuf-like blob real ones decode to (recipient digits + a random
 * hex id), so clients that log or shorten them see the familiar `wamid.HBgN…` shape.
 */
export function newWamid(waId: string): string {
  const blob = Buffer.concat([
    Buffer.from([0x1c, 0x18, waId.length]), Buffer.from(waId),
    Buffer.from([0x15, 0x02, 0x00, 0x11, 0x18, 0x12]), Buffer.from(randomBytes(9).toString('hex').toUpperCase()), Buffer.from([0x00]),
  ]);
  return `wamid.${blob.toString('base64')}`;
}

/** Graph object ids are 15–16 digit decimal strings. */
export const numericId = (digits = 16) => `${randomInt(1, 10)}${Array.from({ length: digits - 1 }, () => randomInt(0, 10)).join('')}`;

/**
 * A customer key that is not a phone number (scenario customers) gets a stable US 555 number; it
 * never ends in 0000, which the sandbox reserves for numbers that are not on WhatsApp.
 */
export function phoneForKey(key: string): string {
  const n = createHash('sha256').update(key).digest().readUInt32BE(0) % 10_000_000;
  const digits = `1555${n.toString().padStart(7, '0')}`;
  return digits.endsWith('0000') ? `${digits.slice(0, -1)}1` : digits;
}

/** Numbers ending in 0000 are "not on WhatsApp" in the sandbox (→ 131026 / Twilio 63003). */
export const isUnreachableNumber = (digits: string) => digits.endsWith('0000');

export const CUSTOMER_NAMES = ['Ana García', 'John Smith', 'Müller Jürgen', 'Priya Patel', 'Léa Martin', 'Carlos Souza', 'Emma Brown', 'Kenji Tanaka', 'Fatima Zahra', 'Olivia Jones'];

/** Seeded customers: the notes' example user first, then a spread of countries. */
export const SEED_CUSTOMER_NUMBERS = ['5215512345678', '15551234567', '4915123456789', '919812345678', '33612345678', '5511912345678', '447700900123', '15557654321', '34612345678', '15559876543'];
