// The pure rules a send and a status obey: reply windows per platform, status moves, and what a
// platform's late failure means to the agent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deliveryFailure, statusMayMove } from '../../lib/domain/message-status';
import { replyWindowMs, windowClosedReason } from '../../lib/domain/reply-window';

const HOUR = 3_600_000;

describe('reply windows', () => {
  const now = Date.UTC(2026, 10, 22, 12);
  it('WhatsApp: 24 h for free-form, none for a template', () => {
    assert.equal(replyWindowMs('whatsapp_cloud', {}), 24 * HOUR);
    assert.equal(windowClosedReason('whatsapp_twilio', now - 23 * HOUR, now, {}), null);
    assert.match(windowClosedReason('whatsapp_cloud', now - 25 * HOUR, now, {})!, /24 h .*approved template/);
    assert.equal(windowClosedReason('whatsapp_cloud', now - 30 * 24 * HOUR, now, { template: true }), null);
    assert.match(windowClosedReason('whatsapp_cloud', null, now, {})!, /has not written/);
  });
  it('Messenger and Instagram: 24 h, or 7 days with the human-agent tag', () => {
    assert.match(windowClosedReason('messenger', now - 25 * HOUR, now, {})!, /7 days with humanAgent/);
    assert.equal(windowClosedReason('instagram', now - 6 * 24 * HOUR, now, { humanAgent: true }), null);
    assert.match(windowClosedReason('instagram_login', now - 8 * 24 * HOUR, now, { humanAgent: true })!, /168 h/);
  });
  it('TikTok: 48 h and no templates; email has no window', () => {
    assert.equal(windowClosedReason('tiktok', now - 47 * HOUR, now, {}), null);
    assert.match(windowClosedReason('tiktok', now - 49 * HOUR, now, { template: true })!, /no templates/);
    assert.equal(windowClosedReason('gmail', null, now, {}), null);
    assert.equal(windowClosedReason('email', now - 365 * 24 * HOUR, now, {}), null);
  });
});

describe('message statuses', () => {
  it('only move forward; failed only before delivery', () => {
    assert.ok(statusMayMove('pending', 'sent') && statusMayMove('sent', 'delivered') && statusMayMove('delivered', 'read'));
    assert.ok(!statusMayMove('read', 'delivered') && !statusMayMove('delivered', 'sent'));
    assert.ok(statusMayMove('sent', 'failed') && !statusMayMove('delivered', 'failed'));
  });
  it('a late WhatsApp window failure reads as window_closed with what to do', () => {
    assert.deepEqual(deliveryFailure({ code: '131047', message: 'Re-engagement message' }).code, 'window_closed');
    assert.match(deliveryFailure({ code: '63016', message: 'outside the window' }).message, /approved template/);
    assert.deepEqual(deliveryFailure({ code: '131026', message: 'undeliverable' }), { code: '131026', message: 'undeliverable' });
    assert.equal(deliveryFailure(undefined).code, 'failed');
  });
});
