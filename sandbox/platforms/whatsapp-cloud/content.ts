// The content checks of `POST /{phone-number-id}/messages` for every non-template type, with the
// Cloud API's codes: 100 for malformed/unknown params, 131008 missing, 131009 invalid value.
import { graphErrors } from './graph';

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];
export const MESSAGE_TYPES = ['text', ...MEDIA_TYPES, 'location', 'contacts', 'interactive', 'reaction', 'template'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** What the simulator keeps of an outbound message's content. */
export interface OutboundContent {
  text?: string;
  media?: { type: MediaType; id?: string; link?: string; caption?: string; filename?: string };
  reactionTo?: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkContent(type: Exclude<MessageType, 'template'>, body: Json): OutboundContent {
  const payload = body[type];
  if (!isObject(payload) && !(type === 'contacts' && Array.isArray(payload))) throw graphErrors.missingParameter(`${type} object is required for type ${type}`);
  switch (type) {
    case 'text': {
      const text = payload as Json;
      if (typeof text.body !== 'string' || !text.body) throw graphErrors.missingParameter('text.body is required');
      if (text.body.length > 4096) throw graphErrors.invalidValue('text.body must be at most 4096 characters long');
      if (text.preview_url !== undefined && typeof text.preview_url !== 'boolean') throw graphErrors.invalidParameter('text.preview_url must be a boolean');
      return { text: text.body };
    }
    case 'image': case 'video': case 'audio': case 'document': case 'sticker': {
      const media = payload as Json;
      const hasId = typeof media.id === 'string' && media.id.length > 0;
      const hasLink = typeof media.link === 'string' && media.link.length > 0;
      if (hasId === hasLink) throw graphErrors.invalidParameter(`${type} must have exactly one of id or link`);
      if (hasLink && !/^https?:\/\/[^\s]+$/i.test(media.link as string)) throw graphErrors.invalidValue(`${type}.link must be an http(s) URL`);
      if (media.caption !== undefined && !['image', 'video', 'document'].includes(type)) throw graphErrors.invalidParameter(`${type} does not take a caption`);
      if (media.caption !== undefined && (typeof media.caption !== 'string' || media.caption.length > 1024)) throw graphErrors.invalidValue(`${type}.caption must be a string of at most 1024 characters`);
      return { media: { type, id: hasId ? (media.id as string) : undefined, link: hasLink ? (media.link as string) : undefined, caption: media.caption as string | undefined, filename: typeof media.filename === 'string' ? media.filename : undefined }, text: media.caption as string | undefined };
    }
    case 'location': {
      const loc = payload as Json;
      for (const key of ['latitude', 'longitude']) {
        if (loc[key] === undefined) throw graphErrors.missingParameter(`location.${key} is required`);
        if (!Number.isFinite(Number(loc[key]))) throw graphErrors.invalidValue(`location.${key} must be a number`);
      }
      return { text: typeof loc.name === 'string' ? loc.name : undefined };
    }
    case 'contacts': {
      if (!Array.isArray(payload) || payload.length === 0) throw graphErrors.invalidParameter('contacts must be a non-empty array');
      if (payload.some((c) => !isObject(c) || !isObject(c.name) || typeof c.name.formatted_name !== 'string')) throw graphErrors.missingParameter('contacts[].name.formatted_name is required');
      return {};
    }
    case 'interactive':
      return checkInteractive(payload as Json);
    case 'reaction': {
      const reaction = payload as Json;
      if (typeof reaction.message_id !== 'string' || !reaction.message_id) throw graphErrors.missingParameter('reaction.message_id is required');
      if (typeof reaction.emoji !== 'string') throw graphErrors.missingParameter('reaction.emoji is required (empty string removes a reaction)');
      return { reactionTo: reaction.message_id, text: reaction.emoji };
    }
  }
}

function checkInteractive(interactive: Json): OutboundContent {
  const kinds = ['button', 'list', 'cta_url', 'product', 'product_list', 'flow', 'location_request_message'];
  if (typeof interactive.type !== 'string') throw graphErrors.missingParameter('interactive.type is required');
  if (!kinds.includes(interactive.type)) throw graphErrors.invalidParameter(`interactive.type must be one of {${kinds.join(', ')}}`);
  const body = interactive.body as Json | undefined;
  if (interactive.type !== 'product' && (!isObject(body) || typeof body.text !== 'string' || !body.text)) throw graphErrors.missingParameter('interactive.body.text is required');
  if (isObject(body) && typeof body.text === 'string' && body.text.length > 1024) throw graphErrors.invalidValue('interactive.body.text must be at most 1024 characters long');
  const action = interactive.action;
  if (!isObject(action)) throw graphErrors.missingParameter('interactive.action is required');
  if (interactive.type === 'button') {
    const buttons = action.buttons;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) throw graphErrors.invalidValue('interactive.action.buttons must have 1 to 3 buttons');
    const ids = new Set<string>();
    for (const b of buttons) {
      const reply = isObject(b) ? (b.reply as Json | undefined) : undefined;
      if (!isObject(b) || b.type !== 'reply' || !isObject(reply) || typeof reply.id !== 'string' || typeof reply.title !== 'string') throw graphErrors.missingParameter('each button needs type "reply" and reply.id, reply.title');
      if (reply.title.length > 20) throw graphErrors.invalidValue('button title must be at most 20 characters long');
      if (ids.has(reply.id)) throw graphErrors.invalidValue('button ids must be unique');
      ids.add(reply.id);
    }
  }
  if (interactive.type === 'list') {
    if (typeof action.button !== 'string' || !action.button || action.button.length > 20) throw graphErrors.invalidValue('interactive.action.button must be 1 to 20 characters');
    const sections = action.sections;
    if (!Array.isArray(sections) || sections.length < 1 || sections.length > 10) throw graphErrors.invalidValue('interactive.action.sections must have 1 to 10 sections');
    const rows = sections.flatMap((s) => (isObject(s) && Array.isArray(s.rows) ? s.rows : []));
    if (rows.length < 1 || rows.length > 10) throw graphErrors.invalidValue('a list message has 1 to 10 rows in total');
    if (rows.some((r) => !isObject(r) || typeof r.id !== 'string' || typeof r.title !== 'string' || r.title.length > 24)) throw graphErrors.invalidValue('each row needs an id and a title of at most 24 characters');
  }
  if (interactive.type === 'cta_url') {
    const params = action.parameters as Json | undefined;
    if (action.name !== 'cta_url' || !isObject(params) || typeof params.display_text !== 'string' || typeof params.url !== 'string') throw graphErrors.missingParameter('interactive.action needs name "cta_url" and parameters.display_text, parameters.url');
  }
  return { text: isObject(body) ? (body.text as string) : undefined };
}
