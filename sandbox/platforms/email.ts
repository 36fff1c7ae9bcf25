// Plain email (SMTP + IMAP) for the sandbox: a real GreenMail server per sandbox instance. The
// module lives in ./email/ (server process, SMTP and IMAP wire clients, MIME builder).
export { createEmailPlatform, EMAIL_MAILBOXES, CUSTOMER_DOMAIN, SENT_FOLDER } from './email/platform';
