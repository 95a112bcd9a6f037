import { cnpgSection } from '../cnpg/browser';
import { fluxSection } from '../flux/browser';
import { veleroSection } from '../velero/browser';
import type { ClusterSection } from './browser';

/** What each backend that lives in a cluster shows under it, in this order. */
export const clusterSections: readonly ClusterSection[] = [veleroSection, fluxSection, cnpgSection];
