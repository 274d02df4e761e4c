export * from './errors.js';
export * from './neon-client.js';
export * from './operations.js';
export * from './rate-limiter.js';
