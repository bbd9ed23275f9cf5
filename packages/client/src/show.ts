import { describeValue } from '@wshub/core/protocol';

/** A short description of a value for error messages: the one form every wshub package uses. */
export const show = describeValue;
