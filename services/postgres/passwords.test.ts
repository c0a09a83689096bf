import { expect } from "chai";
import { UserFixableError } from "./errors.js";
import { generatePassword, validateUserPassword } from "./passwords.js";

describe("generatePassword", () => {
  it("returns 40 characters from [A-Za-z0-9]", () => {
    expect(generatePassword()).to.match(/^[A-Za-z0-9]{40}$/);
  });

  it("returns a different password each time and uses the whole alphabet", () => {
    const passwords = Array.from({ length: 200 }, () => generatePassword());
    expect(new Set(passwords).size).to.equal(200);
    const seen = new Set(passwords.join(""));
    // 8000 draws from 62 symbols: a missing symbol would mean a broken generator.
    expect(seen.size).to.equal(62);
  });
});

describe("validateUserPassword", () => {
  it("accepts printable ASCII, spaces and punctuation included", () => {
    expect(() => validateUserPassword("correct horse: battery 'staple' \\ %@/")).to.not.throw();
  });

  it("refuses an empty password", () => {
    expect(() => validateUserPassword("")).to.throw(UserFixableError, /DB_PASS is empty/);
  });

  it("refuses a password over 1024 characters", () => {
    expect(() => validateUserPassword("a".repeat(1025))).to.throw(UserFixableError, /1025 characters/);
  });

  it("refuses non-ASCII and control characters, saying why, without quoting the password", () => {
    for (const password of ["pässwort-secret", "tab\tsecret", "new\nline-secret"]) {
      try {
        validateUserPassword(password);
        expect.fail("accepted");
      } catch (err) {
        expect(err).to.be.instanceOf(UserFixableError);
        expect((err as UserFixableError).reason).to.equal("InvalidPassword");
        expect((err as Error).message)
          .to.match(/SASLprep/)
          .and.not.include("secret");
      }
    }
  });
});
