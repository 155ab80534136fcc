# One image for the API, the worker and the telephony process (docker-compose picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# IVR prompts are generated at build time (espeak-ng + sox), so the repo carries no audio.
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng sox && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run prompts:build
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "api/main.ts"]
