// The Omnisend emulator's phone identifiers: one phone per contact (what our adapter sends), its
// SMS channel status, and the index that makes a phone owned by one contact unusable by another
// ("an identifier that already exists for another contact is ignored", Omnisend's contacts guide).
import type { OmnisendStatus } from './omnisend-contacts';

export interface OmnisendPhone {
  phone: string;
  status: OmnisendStatus;
}

export class PhoneStore {
  private readonly bySerial = new Map<number, OmnisendPhone>();
  private readonly byPhone = new Map<string, number>();

  /** The contact serial that owns this phone, if any. */
  ownerOf(phone: string): number | undefined {
    return this.byPhone.get(phone);
  }

  of(serial: number): OmnisendPhone | undefined {
    return this.bySerial.get(serial);
  }

  /** Gives a contact a phone (replacing its previous one); the caller checks ownership first. */
  set(serial: number, phone: string, status: OmnisendStatus): void {
    const previous = this.bySerial.get(serial);
    if (previous && previous.phone !== phone) this.byPhone.delete(previous.phone);
    this.bySerial.set(serial, { phone, status });
    this.byPhone.set(phone, serial);
  }

  /** Sets the SMS status of a contact's phone; returns whether it changed. */
  setStatus(serial: number, status: OmnisendStatus): boolean {
    const entry = this.bySerial.get(serial);
    if (!entry || entry.status === status) return false;
    entry.status = status;
    return true;
  }

  get size(): number {
    return this.bySerial.size;
  }

  clear(): void {
    this.bySerial.clear();
    this.byPhone.clear();
  }
}
