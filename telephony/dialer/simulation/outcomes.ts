// The outcome stream: what happens to the k-th dialed call of a simulated campaign, fixed by the
// seed and k alone. Every pacer dialing on the same seed meets the same people: the k-th call it
// places is answered (or not) after the same ring time and, if it reaches an agent, talks as long.
import { standardNormal, streamFor } from './random.js';

export interface OutcomeSettings {
  answerProbability: number;
  /** Answered calls ring U(min, max) seconds. */
  ringMinSeconds: number;
  ringMaxSeconds: number;
  /** Unanswered calls are given up after this many seconds. */
  noAnswerTimeoutSeconds: number;
  /** Talk time: lognormal with this mean and coefficient of variation. */
  talkMeanSeconds: number;
  talkCv: number;
  wrapSeconds: number;
}

export const defaultOutcomeSettings: OutcomeSettings = {
  answerProbability: 0.25,
  ringMinSeconds: 5,
  ringMaxSeconds: 25,
  noAnswerTimeoutSeconds: 25,
  talkMeanSeconds: 180,
  talkCv: 0.6,
  wrapSeconds: 10,
};

export interface CallOutcome {
  answered: boolean;
  /** Seconds until answered, or until given up when not answered. */
  ringSeconds: number;
  talkSeconds: number;
  wrapSeconds: number;
}

export function outcomeStream(seed: number, settings: OutcomeSettings): (index: number) => CallOutcome {
  const logVariance = Math.log(1 + settings.talkCv * settings.talkCv);
  const logMean = Math.log(settings.talkMeanSeconds) - logVariance / 2;
  const logSd = Math.sqrt(logVariance);
  return (index) => {
    const random = streamFor(seed, index);
    const answered = random() < settings.answerProbability;
    const ringDraw = random();
    const talkSeconds = Math.exp(logMean + logSd * standardNormal(random));
    return {
      answered,
      ringSeconds: answered
        ? settings.ringMinSeconds + (settings.ringMaxSeconds - settings.ringMinSeconds) * ringDraw
        : settings.noAnswerTimeoutSeconds,
      talkSeconds,
      wrapSeconds: settings.wrapSeconds,
    };
  };
}
