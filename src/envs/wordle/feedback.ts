import { LetterFeedback } from "../../../gen/openenv/envs/wordle/v1/wordle_pb.js";

/** Letters of the pattern string, indexed by LetterFeedback. */
const patternLetters = ["?", "-", "Y", "G"];

/**
 * Scores a guess against the secret (both lowercase, five letters) with
 * Wordle's rules for repeated letters: exact matches first, then a letter
 * elsewhere in the word is PRESENT only as many times as the secret has it
 * left over.
 */
export function scoreGuess(guess: string, secret: string): LetterFeedback[] {
  const out = new Array<LetterFeedback>(guess.length).fill(LetterFeedback.ABSENT);
  const left = new Map<string, number>();
  for (let i = 0; i < secret.length; i++) {
    if (guess[i] === secret[i]) out[i] = LetterFeedback.CORRECT;
    else left.set(secret[i], (left.get(secret[i]) ?? 0) + 1);
  }
  for (let i = 0; i < guess.length; i++) {
    if (out[i] === LetterFeedback.CORRECT) continue;
    const n = left.get(guess[i]) ?? 0;
    if (n > 0) {
      out[i] = LetterFeedback.PRESENT;
      left.set(guess[i], n - 1);
    }
  }
  return out;
}

/** The feedback as text: 'G' correct, 'Y' present, '-' absent. */
export function patternOf(feedback: readonly LetterFeedback[]): string {
  return feedback.map((f) => patternLetters[f]).join("");
}
