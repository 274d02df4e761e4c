/**
 * Confirmation of irreversible calls through elicitation. On the 2026-07-28 revision a tool asks by
 * returning an input-required result; the client asks the person and calls again with the answer,
 * so the handler runs twice and meets the answer the second time (the SDK's legacy shim does the same
 * over a 2025-era connection with an `elicitation/create` request). A client that declared no
 * elicitation is not asked: the call fails saying which `confirm` argument confirms it.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { NeonError } from '../client/errors.js';
import { type Confirmation, confirmationNeeded } from '../tools/framework.js';

const KEY = 'confirm';
const WHY = { accept: 'not ticked', decline: 'declined', cancel: 'cancelled' } as const;

/** Thrown inside a handler to end it with an input-required result (caught by the server). */
export class InputNeeded extends Error {
  constructor(readonly result: InputRequiredResult) {
    super('input required');
  }
}

/** The client capabilities that hold for this request, in either era. */
function capabilities(server: McpServer, mcp: ServerContext): ClientCapabilities | undefined {
  const envelope = mcp.mcpReq.envelope as Record<string, unknown> | undefined;
  return (
    (envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ??
    server.server.getClientCapabilities()
  );
}

/** Form-mode elicitation: declared as `elicitation.form`, or as a bare `elicitation: {}` (its old form). */
export function canElicit(server: McpServer, mcp: ServerContext): boolean {
  const elicitation = capabilities(server, mcp)?.elicitation as Record<string, unknown> | undefined;
  if (!elicitation) return false;
  return 'form' in elicitation || Object.keys(elicitation).length === 0;
}

/** The `confirm` member of a tool's context for one call. */
export function confirmer(server: McpServer, mcp: ServerContext) {
  return async (request: Confirmation): Promise<void> => {
    const answer = inputResponse(mcp.mcpReq.inputResponses, KEY);
    if (answer.kind === 'elicit') {
      if (answer.action === 'accept' && answer.content?.[KEY] === true) return;
      throw new NeonError(
        `The user did not confirm: ${request.action} was ${WHY[answer.action]}. Nothing was changed.`,
      );
    }
    if (!canElicit(server, mcp)) throw confirmationNeeded(request);
    throw new InputNeeded(
      inputRequired({
        inputRequests: {
          [KEY]: inputRequired.elicit({
            message: `${request.action}? ${request.loses.charAt(0).toUpperCase()}${request.loses.slice(1)}.`,
            requestedSchema: {
              type: 'object',
              properties: {
                [KEY]: {
                  type: 'boolean',
                  title: `Yes, ${request.action.charAt(0).toLowerCase()}${request.action.slice(1)}`,
                  description: `What is lost: ${request.loses}.`,
                },
              },
              required: [KEY],
            },
          }),
        },
      }),
    );
  };
}
