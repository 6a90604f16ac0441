/**
 * Common five-letter English words, written for this repository (no
 * download): the secret is drawn from them, and `require_known_words`
 * checks guesses against them.
 */
export const WORDS: readonly string[] = `
  about above abuse actor acute admit adopt adult after again agent agree
  ahead alarm album alert alike alive allow alone along alter among anger
  angle angry apart apple apply arena argue arise array aside asset audio
  audit avoid award aware badly baker bases basic basin basis beach begin
  being below bench birth black blade blame blank blast blend blind block
  blood board boost booth bound brain brand bread break breed brief bring
  broad broke brown build built buyer cabin cable carry catch cause chain
  chair chalk charm chart chase cheap check chest chief child china chose
  civil claim class clean clear click climb clock close cloud coach coast
  could count court cover craft crash cream crime cross crowd crown curve
  cycle daily dance dated dealt death debut delay depth doing doubt dozen
  draft drama drawn dream dress drink drive drove dying eager early earth
  eight elite empty enemy enjoy enter entry equal error event every exact
  exist extra faith false fault fiber field fifth fifty fight final first
  flash fleet floor fluid focus force forth forty forum found frame frank
  fraud fresh front fruit fully funny giant given glass globe glory grace
  grade grain grand grant grass great green gross group grown guard guess
  guest guide happy heart heavy hence horse hotel house human ideal image
  index inner input issue joint judge juice known label labor large laser
  later laugh layer learn lease least leave legal lemon level light limit
  links lives local logic loose lower lucky lunch lying magic major maker
  march match maybe mayor meant media metal might minor minus mixed model
  money month moral motor mount mouse mouth movie music needs never newly
  night noise north noted novel nurse occur ocean offer often order other
  ought paint panel paper party peace phase phone photo piano piece pilot
  pitch place plain plane plant plate point pound power press price pride
  prime print prior prize proof proud prove queen quick quiet quite radio
  raise range rapid ratio reach ready refer right rival river robin robot
  rough round route royal rural scale scene scope score sense serve seven
  shall shape share sharp sheet shelf shell shift shirt shock shoot short
  shown sight since sixth sixty sized skill sleep slide small smart smile
  smoke solid solve sorry sound south space spare speak speed spend spent
  split spoke sport staff stage stake stand start state steam steel stick
  still stock stone stood store storm story strip stuck study stuff style
  sugar suite super sweet table taken taste taxes teach teeth thank theft
  their theme there these thick thing think third those three threw throw
  tight times tired title today topic total touch tough tower track trade
  train treat trend trial tried tries truck truly trust truth twice under
  union unity until upper upset urban usage usual valid value video virus
  visit vital voice waste watch water wheel where which while white whole
  whose woman women world worry worse worst worth would wound write wrong
  wrote yield young youth zebra
`
  .trim()
  .split(/\s+/);
