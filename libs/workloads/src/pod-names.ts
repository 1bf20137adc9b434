import { createHash } from 'node:crypto';

// Kubernetes' alphabet for generated name suffixes (no vowels, no confusable digits).
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function encode(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[digest[i] % ALPHABET.length];
  return out;
}

/** The pod-template-hash label value: stable for a given template, like the ReplicaSet controller's. */
export function podTemplateHash(template: unknown): string {
  return encode(JSON.stringify(template), 10);
}

/** `<deployment>-<template hash>-<5 chars>`, the shape of a Deployment's pod names. */
export function deploymentPodName(deployment: string, templateHash: string, replicaIndex: number): string {
  return `${deployment}-${templateHash}-${encode(`${deployment}/${templateHash}/${replicaIndex}`, 5)}`;
}
