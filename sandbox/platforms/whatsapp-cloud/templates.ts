// Message templates as a WABA defines them (`/{waba-id}/message_templates` shape) and the checks
// the Cloud API runs on a template send: 132001 unknown name/language, 132015 paused, 132000
// parameter count, 132012 parameter format.
import { GraphError, graphErrors } from './graph';

export type TemplateCategory = 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';
export type TemplateStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED';

export type TemplateComponent =
  | { type: 'HEADER'; format: 'TEXT'; text: string }
  | { type: 'HEADER'; format: 'IMAGE' | 'VIDEO' | 'DOCUMENT' }
  | { type: 'BODY'; text: string }
  | { type: 'FOOTER'; text: string }
  | { type: 'BUTTONS'; buttons: Array<{ type: 'QUICK_REPLY'; text: string } | { type: 'URL'; text: string; url: string } | { type: 'PHONE_NUMBER'; text: string; phone_number: string }> };

export interface MessageTemplate {
  id: string;
  name: string;
  language: string;
  category: TemplateCategory;
  status: TemplateStatus;
  components: TemplateComponent[];
}

/** The templates every seeded WABA has: the notes' order_update example, Meta's hello_world sample, a paused one and an OTP. */
export function defaultTemplates(nextId: () => string): MessageTemplate[] {
  return [
    {
      id: nextId(), name: 'order_update', language: 'es_MX', category: 'UTILITY', status: 'APPROVED',
      components: [
        { type: 'HEADER', format: 'IMAGE' },
        { type: 'BODY', text: 'Hola {{1}}, tu pedido {{2}} va en camino.' },
        { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Rastrear' }] },
      ],
    },
    {
      id: nextId(), name: 'hello_world', language: 'en_US', category: 'UTILITY', status: 'APPROVED',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
        { type: 'BODY', text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.' },
        { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
      ],
    },
    {
      id: nextId(), name: 'spring_sale', language: 'en_US', category: 'MARKETING', status: 'PAUSED',
      components: [{ type: 'BODY', text: 'Hi {{1}}, our spring sale starts today!' }],
    },
    {
      id: nextId(), name: 'verification_code', language: 'en_US', category: 'AUTHENTICATION', status: 'APPROVED',
      components: [
        { type: 'BODY', text: '*{{1}}* is your verification code. For your security, do not share this code.' },
        { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Copy code', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }] },
      ],
    },
  ];
}

const placeholders = (text: string) => new Set(text.match(/\{\{\d+\}\}/g) ?? []).size;

interface RequestParameter { type?: unknown; text?: unknown; payload?: unknown; image?: unknown; video?: unknown; document?: unknown; currency?: unknown; date_time?: unknown }
interface RequestComponent { type?: unknown; sub_type?: unknown; index?: unknown; parameters?: unknown }

const countError = (component: string, got: number, want: number) =>
  new GraphError(400, 132000, 'Number of parameters does not match the expected number of params', { details: `${component}: number of localizable_params (${got}) does not match the expected number of params (${want})` });
const formatError = (details: string) => new GraphError(400, 132012, 'Parameter format does not match format in the created template', { details });

/**
 * Checks a send's `template` object against the WABA's templates; returns the template and the
 * body text with parameters filled in (kept as the sent message's text).
 */
export function checkTemplateSend(templates: MessageTemplate[], input: unknown): { template: MessageTemplate; renderedBody: string } {
  if (!input || typeof input !== 'object') throw graphErrors.missingParameter('template is required for type template');
  const req = input as { name?: unknown; language?: { code?: unknown } | unknown; components?: unknown };
  if (typeof req.name !== 'string' || !req.name) throw graphErrors.missingParameter('template.name is required');
  const language = (req.language as { code?: unknown } | undefined)?.code;
  if (typeof language !== 'string' || !language) throw graphErrors.missingParameter('template.language.code is required');
  const template = templates.find((t) => t.name === req.name && t.language === language);
  if (!template || ['PENDING', 'REJECTED', 'DISABLED'].includes(template.status)) {
    throw new GraphError(404, 132001, 'Template name does not exist in the translation', { details: `template name (${req.name}) does not exist in ${language}` });
  }
  if (template.status === 'PAUSED') {
    throw new GraphError(400, 132015, 'Template is Paused', { details: 'Template is paused due to low quality so it cannot be sent in a template message' });
  }
  if (req.components !== undefined && !Array.isArray(req.components)) throw graphErrors.invalidParameter('template.components must be an array');
  const given = (req.components ?? []) as RequestComponent[];
  const byType = (type: string) => given.filter((c) => typeof c?.type === 'string' && c.type.toLowerCase() === type);
  const paramsOf = (c: RequestComponent | undefined): RequestParameter[] => (Array.isArray(c?.parameters) ? (c.parameters as RequestParameter[]) : []);

  let renderedBody = '';
  for (const component of template.components) {
    if (component.type === 'HEADER') {
      const params = paramsOf(byType('header')[0]);
      if (component.format === 'TEXT') {
        const want = placeholders(component.text);
        if (params.length !== want) throw countError('header', params.length, want);
        checkTextParams(params, 'header');
      } else {
        if (params.length !== 1) throw countError('header', params.length, 1);
        const kind = component.format.toLowerCase();
        const media = params[0]![kind as 'image'] as { link?: unknown; id?: unknown } | undefined;
        if (params[0]!.type !== kind || !media || (typeof media.link !== 'string' && typeof media.id !== 'string')) {
          throw formatError(`header: expected one ${kind} parameter with a link or id`);
        }
      }
    } else if (component.type === 'BODY') {
      const params = paramsOf(byType('body')[0]);
      const want = placeholders(component.text);
      if (params.length !== want) throw countError('body', params.length, want);
      checkTextParams(params, 'body');
      renderedBody = component.text.replace(/\{\{(\d+)\}\}/g, (_, n: string) => String(params[Number(n) - 1]?.text ?? ''));
    } else if (component.type === 'BUTTONS') {
      const buttons = byType('button');
      for (const button of buttons) {
        const index = Number(button.index);
        const def = component.buttons[index];
        if (!Number.isInteger(index) || !def) throw graphErrors.invalidValue(`button index ${String(button.index)} does not exist in template ${template.name}`);
        const want = def.type === 'URL' ? placeholders(def.url) : def.type === 'QUICK_REPLY' ? 1 : 0;
        if (paramsOf(button).length !== want) throw countError(`buttons[${index}]`, paramsOf(button).length, want);
      }
      // A dynamic URL button cannot be sent without its suffix parameter.
      component.buttons.forEach((def, index) => {
        if (def.type === 'URL' && placeholders(def.url) > 0 && !buttons.some((b) => Number(b.index) === index)) throw countError(`buttons[${index}]`, 0, placeholders(def.url));
      });
    }
  }
  return { template, renderedBody };
}

function checkTextParams(params: RequestParameter[], component: string) {
  for (const p of params) {
    if (p.type === 'text' && (typeof p.text !== 'string' || !p.text.trim())) throw formatError(`${component}: text parameters must be non-empty strings`);
    if (!['text', 'currency', 'date_time'].includes(String(p.type))) throw formatError(`${component}: parameter type ${String(p.type)} is not allowed here`);
  }
}
