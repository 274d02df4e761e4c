export * from './errors.js';
export * from './neon-client.js';
export * from './rate-limiter.js';
