import type { ProviderName } from '../providers/types';

// What an Admin accepts before a connection sends anyone's data to a provider: shown above the
// "I accept" box, which the API records as the connection's consent (who, when).

export interface PrivacyTerms {
  /** Where the provider keeps the data. */
  where: string;
  paragraphs: string[];
}

const COMMON = (provider: string) => [
  `Exports on this connection send personal data of your segments' members to ${provider}: their email address and the fields you map (first and last name, phone, address, city, country or region, postal code).`,
  `${provider} processes that data for you as your processor, under your agreement with ${provider} (its terms, privacy policy and data processing agreement). You must have a lawful basis, such as consent, to market to these people, and you remain responsible for what is sent.`,
  'segment-export keeps the API key in its secret store (Key Vault in Azure) and never shows it again. Members removed from a segment are taken out of the list or tag this app added them to; their subscription status and consent at the provider are never changed. People who ask to be forgotten must also be erased at the provider.',
];

export const PRIVACY_TERMS: Record<ProviderName, PrivacyTerms> = {
  iterable: {
    where: "in Iterable's US or EU data centre: the one you pick above",
    paragraphs: COMMON('Iterable'),
  },
  brevo: {
    where: "where Brevo hosts its service, as Brevo's privacy policy describes",
    paragraphs: COMMON('Brevo'),
  },
  omnisend: {
    where: "where Omnisend hosts its service, as Omnisend's privacy policy describes",
    paragraphs: COMMON('Omnisend'),
  },
};
