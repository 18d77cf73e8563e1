import t from 'tap';
import {
  COMPONENTS,
  REPLACING_COMPONENTS,
  VARIANTS,
  find,
  render,
  renderBaseWith,
  unknownFieldDiagnostics,
  validateObject,
  type K8sObject,
} from './fixtures/k8s-render.js';

async function schemaErrors(objects: K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const object of objects) {
    await validateObject(object).catch((err: Error) => errors.push(`${object.kind}/${object.metadata.name}: ${err.message}`));
  }
  return errors;
}

t.test('The validators reject a malformed object, a misspelt field and an unknown kind.', async (t) => {
  const deployment = structuredClone(find(render('base'), 'Deployment', 'project-api-deployment'));
  deployment.spec.replicas = 'two';
  t.equal((await schemaErrors([deployment])).length, 1, 'a string where the schema wants an integer fails validation');

  const misspelt = structuredClone(find(render('base'), 'Deployment', 'project-api-deployment'));
  misspelt.spec.template.spec.containers[0].readinessprobe = misspelt.spec.template.spec.containers[0].readinessProbe;
  const diagnostics = unknownFieldDiagnostics([misspelt]);
  t.equal(diagnostics.length, 1, 'one diagnostic for one unknown field');
  t.match(diagnostics[0], /Deployment\/project-api-deployment: .*readinessprobe/);

  const scaled = structuredClone(find(renderBaseWith(['queue-autoscaling']), 'ScaledObject', 'project-api'));
  scaled.spec.trigers = scaled.spec.triggers;
  delete scaled.spec.triggers;
  t.match((await schemaErrors([scaled]))[0], /ScaledObject\/project-api: .*trigers/, 'a CRD typed here: a misspelt field fails');

  await t.rejects(
    validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    /no schema for example.com\/v1 Widget/,
  );
});

for (const variant of VARIANTS) {
  t.test(`kustomize/${variant} renders, and every object validates against its API schema.`, async (t) => {
    const objects = render(variant);
    t.ok(objects.length > 0, 'renders at least one object');
    t.same(await schemaErrors(objects), [], 'no schema errors');
    t.same(unknownFieldDiagnostics(objects), [], 'no field the API does not define');
  });
}

for (const component of COMPONENTS) {
  t.test(`The ${component} component renders on top of the base on its own, and its objects validate.`, async (t) => {
    const objects = renderBaseWith([component]);
    if (!REPLACING_COMPONENTS.includes(component)) t.ok(objects.length >= render('base').length, 'keeps every base object');
    t.same(await schemaErrors(objects), [], 'no schema errors');
    t.same(unknownFieldDiagnostics(objects), [], 'no field the API does not define');
  });
}

t.test('All components render together on top of the base without conflicts.', async (t) => {
  const objects = renderBaseWith(COMPONENTS);
  t.same(await schemaErrors(objects), [], 'no schema errors');
  const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  t.equal(new Set(keys).size, keys.length, 'no object is emitted twice');
});
