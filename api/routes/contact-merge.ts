// Merging one contact into another without transactions: every step is idempotent and the order
// is chosen so that a crash anywhere loses nothing and running the same merge again finishes it.
//   1. the intent on the merged contact (`mergingInto`), claimed conditionally: one merge at a time;
//   2. its identity records point at the survivor (new messages from them now land there — the
//      inbox writer maps identities to contacts through these records);
//   3. the survivor gains the identities (display copy) and a name where it only had a placeholder;
//   4. conversations, and contacts merged into the merged one earlier, point at the survivor;
//   5. `mergedInto` is set: the merged contact leaves the list; reading it answers with the survivor.
// Replies are unaffected: they route by each conversation's own channel and participant.
import { Types } from 'mongoose';
import { AppError, conflict, notFound } from '../../lib/errors';
import { ContactIdentityModel, ContactModel, ConversationModel } from '../../models';

type Identity = { channelId: Types.ObjectId; platform: string; externalId: string; handle?: string | null; name?: string | null };
type ContactDoc = { _id: Types.ObjectId; tenantId: Types.ObjectId; name?: string | null; identities?: Identity[]; mergingInto?: Types.ObjectId | null; mergedInto?: Types.ObjectId | null };

export interface MergeResult { identitiesMoved: number; conversationsMoved: number }

const identityId = (i: Pick<Identity, 'channelId' | 'externalId'>) => `${String(i.channelId)}:${i.externalId}`;
/** The display copy of an identity, keys in one order (so `$addToSet` sees equal ones as equal). */
const displayIdentity = (i: Identity) => ({
  channelId: i.channelId, platform: i.platform, externalId: i.externalId,
  ...(i.handle ? { handle: i.handle } : {}), ...(i.name ? { name: i.name } : {}),
});
/** A name the inbox made up (the handle or platform ID, when the platform gave no name). */
const placeholderName = (c: ContactDoc) => !c.name?.trim() || (c.identities ?? []).some((i) => c.name === i.externalId || c.name === i.handle);

async function loadContact(tenantId: Types.ObjectId, id: Types.ObjectId): Promise<ContactDoc> {
  const c = await ContactModel.findById(id).lean<ContactDoc>();
  if (!c || !c.tenantId.equals(tenantId)) throw notFound('Contact');
  return c;
}

/** Merges `fromId` into `intoId` (both of `tenantId`); a repeat of the same merge is harmless and completes it. */
export async function mergeContacts(tenantId: Types.ObjectId, intoId: Types.ObjectId, fromId: Types.ObjectId): Promise<MergeResult> {
  if (intoId.equals(fromId)) throw new AppError(422, 'cannot_merge_self', 'A contact cannot be merged with itself');
  const into = await loadContact(tenantId, intoId);
  const from = await loadContact(tenantId, fromId);
  const elsewhere = into.mergedInto ?? into.mergingInto;
  if (elsewhere) throw conflict(`Contact ${String(intoId)} was (or is being) merged into ${String(elsewhere)}: merge into that one instead`, { mergedInto: String(elsewhere) });
  const fromTarget = from.mergedInto ?? from.mergingInto;
  if (fromTarget && !fromTarget.equals(intoId)) throw conflict(`Contact ${String(fromId)} was already merged into ${String(fromTarget)}`, { mergedInto: String(fromTarget) });

  // 1. The intent. Conditional: of two merges of the same contact into different ones, one wins.
  if (!from.mergedInto) {
    const claimed = await ContactModel.updateOne({ _id: fromId, mergedInto: null, $or: [{ mergingInto: null }, { mergingInto: intoId }] }, { $set: { mergingInto: intoId } });
    if (claimed.matchedCount === 0) throw conflict(`Contact ${String(fromId)} is being merged into another contact`);
    // Merges racing the other way round (into → from), or into the contact being merged away,
    // would leave a cycle or identities on a merged contact: with our intent now visible, check again.
    const survivor = await ContactModel.findById(intoId, { mergingInto: 1, mergedInto: 1 }).lean<ContactDoc>();
    const incoming = await ContactModel.exists({ tenantId, mergingInto: fromId });
    if (!survivor || survivor.mergingInto || survivor.mergedInto || incoming) {
      await ContactModel.updateOne({ _id: fromId, mergingInto: intoId, mergedInto: null }, { $unset: { mergingInto: 1 } });
      throw conflict('Another merge of these contacts is in progress; try again when it is done');
    }
  }

  // 2. Identity records (what ingestion reads): found by contact, moved by natural key.
  const records = await ContactIdentityModel.find({ tenantId, contactId: fromId }).lean();
  const moved = records.length
    ? (await ContactIdentityModel.updateMany({ _id: { $in: records.map((r) => r._id) }, contactId: fromId }, { $set: { contactId: intoId } })).modifiedCount
    : 0;

  // 3. The survivor's display copy: the merged contact's identities (its copy, and the records
  //    moved just now or by an interrupted run), and its name where the survivor only has a placeholder.
  const known = new Set((into.identities ?? []).map(identityId));
  const additions = new Map<string, ReturnType<typeof displayIdentity>>();
  for (const i of [...(from.identities ?? []), ...records.map((r) => r as unknown as Identity)]) {
    const id = identityId(i);
    if (!known.has(id) && !additions.has(id)) additions.set(id, displayIdentity(i));
  }
  if (additions.size) await ContactModel.updateOne({ _id: intoId }, { $addToSet: { identities: { $each: [...additions.values()] } } });
  if (placeholderName(into) && from.name?.trim() && !placeholderName(from)) {
    await ContactModel.updateOne({ _id: intoId, name: into.name ?? null }, { $set: { name: from.name } });
  }

  // 4. Conversations, and contacts merged into this one before (so reads need no long chains).
  const conversations = await ConversationModel.updateMany({ tenantId, contactId: fromId }, { $set: { contactId: intoId } });
  await ContactModel.updateMany({ tenantId, mergedInto: fromId }, { $set: { mergedInto: intoId } });

  // 5. Done: the merged contact points at the survivor for good.
  await ContactModel.updateOne({ _id: fromId, mergedInto: null, mergingInto: intoId }, { $set: { mergedInto: intoId, mergedAt: new Date() }, $unset: { mergingInto: 1 } });
  return { identitiesMoved: moved, conversationsMoved: conversations.modifiedCount };
}

/** The contact a (possibly merged) contact ID stands for now: follows `mergedInto`, within the tenant. */
export async function resolveContact<T extends ContactDoc>(tenantId: Types.ObjectId, id: Types.ObjectId): Promise<T> {
  let contact = await ContactModel.findById(id).lean<T>();
  for (let hops = 0; contact?.mergedInto && hops < 10; hops++) contact = await ContactModel.findById(contact.mergedInto).lean<T>();
  if (!contact || !contact.tenantId.equals(tenantId) || contact.mergedInto) throw notFound('Contact');
  return contact;
}
