// Search attributes that let the Temporal UI filter migrations by service and hosts. The embedded
// stack registers them when it starts the dev server (see cli/stack.ts).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  service: defineSearchAttributeKey('FastmigService', SearchAttributeType.KEYWORD),
  source: defineSearchAttributeKey('FastmigSource', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('FastmigTarget', SearchAttributeType.KEYWORD),
};
