// GET /v1/services: the services of the repo the token may see, with their secrets files (target, example,
// format, source kind and reference). Names and paths only.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describeRef } from '../../sources/secret-source.js';
import type { RouteContext } from '../app.js';
import { servicesInScope } from '../authentication.js';
import { errorBody, responseSchema, serviceList, type ServiceList } from '../schemas.js';

export async function serviceRoutes(app: FastifyInstance, { context }: { context: RouteContext }): Promise<void> {
  app.get(
    '/services',
    {
      config: { permission: 'check' },
      schema: {
        operationId: 'listServices',
        summary: 'List services and their secrets files',
        tags: ['services'],
        response: { 200: responseSchema(serviceList), '4xx': responseSchema(errorBody), '5xx': responseSchema(errorBody) },
      },
    },
    async (request): Promise<ServiceList> => context.withWorkspace(async ({ repo }) => {
      const visible = new Set(servicesInScope(request, repo.services.map((s) => s.name)));
      return {
        services: repo.services
          .filter((service) => visible.has(service.name))
          .map((service) => ({
            name: service.name,
            composeFile: service.composeFileRel,
            files: service.secretFiles.map((file) => ({
              target: file.targetRel,
              example: file.exampleRel,
              format: file.format,
              required: file.required,
              source: {
                kind: file.source?.kind ?? null,
                // Repo-relative for sops, so the answer reads the same on every host.
                ref: file.source === null ? null : file.source.kind === 'sops' ? path.relative(repo.root, file.source.file).split(path.sep).join('/') : describeRef(file.source),
              },
            })),
          })),
      };
    }),
  );
}
