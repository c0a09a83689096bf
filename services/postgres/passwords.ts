/** Passwords for tenant roles: generated ones, and the rules for one a user typed into a Secret. */
import { randomInt } from "node:crypto";
import { UserFixableError } from "./errors.js";

/** Length of generated passwords (docs/security.md, Passwords). */
export const GENERATED_PASSWORD_LENGTH = 40;

/** The longest password accepted from a user-edited Secret. */
export const MAX_USER_PASSWORD_LENGTH = 1024;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A fresh password: 40 characters of [A-Za-z0-9] from the operating system's CSPRNG. */
export function generatePassword(): string {
  let password = "";
  for (let i = 0; i < GENERATED_PASSWORD_LENGTH; i++) {
    // randomInt rejects and redraws out-of-range values, so every character is equally likely.
    password += ALPHABET[randomInt(ALPHABET.length)];
  }
  return password;
}

/** Throws a user-fixable error (never quoting the password) unless `password` is one we can set as `DB_PASS`. */
export function validateUserPassword(password: string): void {
  if (password.length === 0) {
    throw invalid("DB_PASS is empty; set a password or delete the Secret to get a generated one");
  }
  if (password.length > MAX_USER_PASSWORD_LENGTH) {
    throw invalid(`DB_PASS is ${password.length} characters long; at most ${MAX_USER_PASSWORD_LENGTH} are accepted`);
  }
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw invalid(
      "DB_PASS contains characters outside printable ASCII; such a password would need SASLprep and clients treat it differently, so use printable ASCII only",
    );
  }
}

function invalid(message: string): UserFixableError {
  return new UserFixableError("InvalidPassword", "while checking the password in the Secret", message);
}
