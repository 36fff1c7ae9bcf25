export * from './tenant';
export * from './api-key';
export * from './channel';
export * from './contact';
export * from './conversation';
export * from './message';
export * from './webhook-event';
export * from './daily-stat';
