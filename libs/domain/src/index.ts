export * from './enums';
export * from './resources';
export * from './instance-state';
export * from './names';
export * from './inventory';
export * from './template';
export * from './isolation';
export * from './template-catalogue';
export * from './webhooks';

export * from './windows-build';
export * from './wire';
