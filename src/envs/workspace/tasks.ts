/** A task of the workspace environment: what the agent is asked, the files it starts with, and the hidden tests that grade it. */
export interface WorkspaceTask {
  readonly id: string;
  readonly instruction: string;
  /** Files the workspace starts with, by path. */
  readonly files: Readonly<Record<string, string>>;
  /** Modules of the workspace the tests import (dropped from the interpreter's cache before grading). */
  readonly modules: readonly string[];
  /** Hidden tests: Python snippets that pass when they run without raising. */
  readonly tests: readonly { readonly name: string; readonly code: string }[];
}

const CSV_ROWS = [
  ["2024-01-03", "coffee", "4.50"],
  ["2024-01-03", "train", "12.00"],
  ["2024-01-04", "lunch", "9.75"],
  ["2024-01-05", "books", "31.20"],
  ["2024-01-06", "coffee", "4.50"],
  ["2024-01-07", "groceries", "57.35"],
];

/** The bundled tasks: small programming jobs an agent solves with the workspace's tools. */
export const workspaceTasks: readonly WorkspaceTask[] = [
  {
    id: "fizzbuzz",
    instruction:
      "Create fizzbuzz.py defining fizzbuzz(n) that returns a list of strings for the numbers 1 to n: " +
      '"Fizz" for multiples of 3, "Buzz" for multiples of 5, "FizzBuzz" for multiples of both, and the number itself otherwise. ' +
      "Call submit when you are done.",
    files: { "README.md": "# fizzbuzz\n\nWrite fizzbuzz.py here.\n" },
    modules: ["fizzbuzz"],
    tests: [
      { name: "first_five", code: 'from fizzbuzz import fizzbuzz\nassert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"], fizzbuzz(5)' },
      { name: "fifteen", code: 'from fizzbuzz import fizzbuzz\nassert fizzbuzz(15)[-1] == "FizzBuzz"\nassert len(fizzbuzz(15)) == 15' },
      { name: "empty", code: "from fizzbuzz import fizzbuzz\nassert fizzbuzz(0) == []" },
    ],
  },
  {
    id: "fix_stats",
    instruction:
      "stats.py has bugs: mean() and median() return wrong answers. Fix both (the median of an even number of values " +
      "is the mean of the two middle ones) without renaming them, then call submit.",
    files: {
      "stats.py":
        "def mean(values):\n    return sum(values) / (len(values) - 1)\n\n\ndef median(values):\n    s = sorted(values)\n    return s[len(s) // 2]\n",
    },
    modules: ["stats"],
    tests: [
      { name: "mean", code: "from stats import mean\nassert mean([1, 2, 3]) == 2\nassert mean([5]) == 5" },
      { name: "median_odd", code: "from stats import median\nassert median([3, 1, 2]) == 2" },
      { name: "median_even", code: "from stats import median\nassert median([4, 1, 3, 2]) == 2.5" },
    ],
  },
  {
    id: "csv_total",
    instruction:
      "data.csv lists expenses. Write the total of its amount column to answer.txt, as a number with two decimals " +
      "(nothing else in the file), then call submit.",
    files: { "data.csv": `date,item,amount\n${CSV_ROWS.map((r) => r.join(",")).join("\n")}\n` },
    modules: [],
    tests: [
      {
        name: "answer",
        code: `with open("answer.txt") as f:\n    text = f.read().strip()\nassert text == "${CSV_ROWS.reduce((s, r) => s + Number(r[2]), 0).toFixed(2)}", text`,
      },
    ],
  },
  {
    id: "word_count",
    instruction:
      "Create words.py defining count_words(text) that returns a dict mapping each lowercase word to the number of times " +
      "it occurs. Words are separated by whitespace; strip the punctuation .,!?;: from their ends. Then call submit.",
    files: {},
    modules: ["words"],
    tests: [
      { name: "simple", code: 'from words import count_words\nassert count_words("a b a") == {"a": 2, "b": 1}' },
      { name: "case_punctuation", code: 'from words import count_words\nassert count_words("Hi, hi! HI?") == {"hi": 3}' },
      { name: "empty", code: 'from words import count_words\nassert count_words("  ") == {}' },
    ],
  },
];
